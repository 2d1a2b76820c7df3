/* sigfd.c: signalfd wrapper with process-wide listener counts. */
#include <errno.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include "sigfd.h"

static const struct { const char *name; int signo; } names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},
    {"ALRM", SIGALRM}, {"TERM", SIGTERM},     {"CHLD", SIGCHLD},   {"CONT", SIGCONT},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},       {"PWR", SIGPWR},     {"SYS", SIGSYS},
};
#define NNAMES (sizeof names / sizeof *names)

/* Process-wide, like the mask they track: listeners per signal, and the
 * signals corio blocked itself (and so must unblock). */
static unsigned listeners[NSIG];
static sigset_t blocked_by_us;

int corio_signal_number(const char *name)
{
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < NNAMES; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].signo;
    return -EINVAL;
}

const char *corio_signal_name(int signo)
{
    for (size_t i = 0; i < NNAMES; i++)
        if (names[i].signo == signo)
            return names[i].name;
    return NULL;
}

/* Count a new listener of set; block the signals it is the first for.
 * It is counted even on failure, so the caller's release balances it. */
static int retain(const sigset_t *set)
{
    sigset_t now, add;
    sigemptyset(&now);
    sigemptyset(&add);
    int rc = sigprocmask(SIG_BLOCK, NULL, &now) < 0 ? -errno : 0;
    for (int s = 1; s < NSIG; s++) {
        if (!sigismember(set, s) || listeners[s]++ > 0 || rc < 0 || sigismember(&now, s))
            continue;
        sigaddset(&add, s);
        sigaddset(&blocked_by_us, s);
    }
    if (rc < 0)
        return rc;
    return sigprocmask(SIG_BLOCK, &add, NULL) < 0 ? -errno : 0;
}

/* Drop a listener of set; discard pending instances of the signals that
 * corio blocked and nobody listens to now, then unblock them. */
static void release(const sigset_t *set)
{
    sigset_t drop;
    sigemptyset(&drop);
    int any = 0;
    for (int s = 1; s < NSIG; s++) {
        if (!sigismember(set, s) || --listeners[s] > 0 || !sigismember(&blocked_by_us, s))
            continue;
        sigaddset(&drop, s);
        sigdelset(&blocked_by_us, s);
        any = 1;
    }
    if (!any)
        return;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&drop, NULL, &zero) > 0)
        ;
    (void)sigprocmask(SIG_UNBLOCK, &drop, NULL);
}

int corio_signal_open(const sigset_t *set)
{
    int rc = retain(set);
    if (rc < 0) {
        release(set);
        return rc;
    }
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        release(set);
        return rc;
    }
    return fd;
}

int corio_signal_read(int fd)
{
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (n != (ssize_t)sizeof si)
        return -EIO;
    return (int)si.ssi_signo;
}

void corio_signal_close(int fd, const sigset_t *set)
{
    close(fd);
    release(set);
}
