/* modules.h: the binding's registration list. Each MODULE(name) line is a
 * file that defines `const l_module l_<name>_module` (its classes'
 * set-up and its functions, see bind.h); each CLASS(ID, "name") line is a
 * userdata class that hot paths check by index (CL_ID) instead of by name.
 * Adding a module is its file plus its lines here. */
MODULE(runtime)
MODULE(task)
MODULE(stream)
MODULE(listener)
MODULE(tcp)
MODULE(channel)
MODULE(poll)
MODULE(signal)
MODULE(udp)
MODULE(unix)
MODULE(resolve)
MODULE(fs)
MODULE(sendfile)
MODULE(faults)

CLASS(TASK, "corio.Task")
CLASS(DEADLINE, "corio.Deadline")
CLASS(STREAM, "corio.Stream")
CLASS(LISTENER, "corio.Listener")
CLASS(CHANNEL, "corio.Channel")
CLASS(UDP, "corio.UdpSocket")
