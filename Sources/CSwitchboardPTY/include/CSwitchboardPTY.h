// The few Linux calls Swift's Glibc module does not show (it is built without _GNU_SOURCE): opening a
// pseudo-terminal, spawning into a new session with it as the controlling terminal, pidfds and epoll.
#ifndef CSWITCHBOARD_PTY_H
#define CSWITCHBOARD_PTY_H

#include <sys/types.h>

/// Opens a PTY master (O_RDWR | O_NOCTTY | O_CLOEXEC), unlocks it, sets its window size and writes the
/// slave's path into `path`. Returns the master fd, or -errno.
int sb_pty_open(char *path, int pathLength, unsigned short rows, unsigned short cols);

/// Spawns `file` (searched in PATH when it has no '/') in a new session whose controlling terminal is the
/// slave at `slavePath` (stdin, stdout and stderr), with default signal dispositions, an empty signal mask,
/// every other descriptor closed and `directory` (if not NULL) as its working directory.
/// Returns 0 and sets `pid`, or an errno value.
int sb_pty_spawn(pid_t *pid, const char *file, char *const argv[], char *const envp[], const char *slavePath,
                 const char *directory);

/// pidfd_open(2); returns the fd or -errno.
int sb_pidfd_open(pid_t pid);
/// pidfd_send_signal(2); returns 0 or -errno.
int sb_pidfd_send_signal(int pidfd, int signal);
/// Reaps the process of a pidfd without blocking: returns 1 and the wait status when it has exited,
/// 0 when it is still running, -errno on error.
int sb_pidfd_reap(int pidfd, int *status);

/// epoll_create1(EPOLL_CLOEXEC).
int sb_epoll_create(void);
/// Adds `fd` for EPOLLIN with `data` as its tag; returns 0 or -errno.
int sb_epoll_add(int epfd, int fd, unsigned long long data);
/// Removes `fd`; returns 0 or -errno.
int sb_epoll_remove(int epfd, int fd);
/// Waits for up to `count` events and writes their tags; returns how many, or -errno.
int sb_epoll_wait(int epfd, unsigned long long *tags, int count, int timeoutMilliseconds);
/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK).
int sb_eventfd(void);

/// Sets the window size of a PTY (master or slave fd); returns 0 or -errno.
int sb_pty_set_size(int fd, unsigned short rows, unsigned short cols);
/// The foreground process group of a PTY's slave, read through the master; -errno on error.
pid_t sb_pty_foreground_group(int fd);
/// The session id of a process from /proc/<pid>/stat, or -1.
pid_t sb_session_of(pid_t pid);



/// Sends `signal` to every process whose session id is `session` (scanning /proc); with signal 0 it only
/// counts them. Returns how many there were.
int sb_signal_session(pid_t session, int signal);
#endif
