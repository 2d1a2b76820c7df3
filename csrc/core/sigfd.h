/* sigfd.h: signals as readable fds (signalfd), with no Lua and no
 * asynchronous handler: a listened signal is blocked and queued by the
 * kernel until read from the fd the reactor watches.
 *
 * The signal mask is process state, so the counts of listeners per signal
 * are process-wide: a signal stays blocked while any fd listens for it,
 * and is unblocked (restoring its default handling) when the last one
 * closes, unless it was already blocked before corio blocked it. Only the
 * calling thread's mask changes; a Lua process runs in one thread.
 * (Named sigfd.h so that -Icsrc/core never shadows the system <signal.h>.) */
#ifndef CORIO_SIGFD_H
#define CORIO_SIGFD_H
#include <signal.h>

/* Number of the signal named "INT", "SIGINT" (any case); -EINVAL for an
 * unknown name or one that cannot be caught (KILL, STOP). */
int corio_signal_number(const char *name);

/* Short name ("INT") of signo, or NULL. */
const char *corio_signal_name(int signo);

/* Block the signals of set and open a non-blocking signalfd for them.
 * Returns the fd or -errno (nothing stays blocked on failure). */
int corio_signal_open(const sigset_t *set);

/* Next pending signal of fd: its number, -EAGAIN when none, or -errno. */
int corio_signal_read(int fd);

/* Close fd (opened with set) and unblock the signals nobody listens to
 * any more, first discarding their pending instances so that closing a
 * listener never delivers a late signal with its default action. */
void corio_signal_close(int fd, const sigset_t *set);

#endif
