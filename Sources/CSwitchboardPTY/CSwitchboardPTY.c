#define _GNU_SOURCE
#include "CSwitchboardPTY.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int sb_pty_open(char *path, int pathLength, unsigned short rows, unsigned short cols) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -errno;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, path, (size_t)pathLength) != 0) {
        int error = errno;
        close(master);
        return -error;
    }
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    if (ioctl(master, TIOCSWINSZ, &size) != 0) {
        int error = errno;
        close(master);
        return -error;
    }
    return master;
}

int sb_pty_spawn(pid_t *pid, const char *file, char *const argv[], char *const envp[], const char *slavePath,
                 const char *directory) {
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int result = posix_spawnattr_init(&attributes);
    if (result != 0) return result;
    result = posix_spawn_file_actions_init(&actions);
    if (result != 0) {
        posix_spawnattr_destroy(&attributes);
        return result;
    }
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    // A new session; default dispositions (NIO ignores SIGPIPE, and that would be inherited); no blocked signals.
    result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &empty);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &all);
    // Opening the slave after setsid, without O_NOCTTY, makes it the controlling terminal.
    if (result == 0) result = posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0);
    if (result == 0) result = posix_spawn_file_actions_adddup2(&actions, 0, 1);
    if (result == 0) result = posix_spawn_file_actions_adddup2(&actions, 0, 2);
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (result == 0 && directory != NULL) result = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (result == 0) {
        if (strchr(file, '/') != NULL) {
            result = posix_spawn(pid, file, &actions, &attributes, argv, envp);
        } else {
            result = posix_spawnp(pid, file, &actions, &attributes, argv, envp);
        }
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return result;
}

int sb_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int sb_pidfd_send_signal(int pidfd, int signal) {
    long result = syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
    return result < 0 ? -errno : 0;
}

int sb_pidfd_reap(int pidfd, int *status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) != 0) return -errno;
    if (info.si_pid == 0) return 0;
    switch (info.si_code) {
    case CLD_EXITED: *status = (info.si_status & 0xff) << 8; break;
    case CLD_KILLED: *status = info.si_status & 0x7f; break;
    case CLD_DUMPED: *status = (info.si_status & 0x7f) | 0x80; break;
    default: *status = info.si_status; break;
    }
    return 1;
}

int sb_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int sb_epoll_add(int epfd, int fd, unsigned long long data) {
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = data};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int sb_epoll_remove(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

int sb_epoll_wait(int epfd, unsigned long long *tags, int count, int timeoutMilliseconds) {
    struct epoll_event events[64];
    if (count > 64) count = 64;
    int ready = epoll_wait(epfd, events, count, timeoutMilliseconds);
    if (ready < 0) return -errno;
    for (int index = 0; index < ready; index++) tags[index] = events[index].data.u64;
    return ready;
}

int sb_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int sb_pty_set_size(int fd, unsigned short rows, unsigned short cols) {
    struct winsize size = {.ws_row = rows, .ws_col = cols};
    return ioctl(fd, TIOCSWINSZ, &size) == 0 ? 0 : -errno;
}

pid_t sb_pty_foreground_group(int fd) {
    pid_t group = tcgetpgrp(fd);
    return group < 0 ? -errno : group;
}

/// Reads the state and session id of a process from /proc/<pid>/stat; returns 0 on success.
static int read_stat(pid_t pid, char *state, pid_t *session) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "re");
    if (file == NULL) return -1;
    char buffer[1024];
    size_t length = fread(buffer, 1, sizeof buffer - 1, file);
    fclose(file);
    buffer[length] = 0;
    // The command name is in parentheses and may contain spaces: fields follow the last ')'.
    char *end = strrchr(buffer, ')');
    if (end == NULL) return -1;
    int parent, group, sid;
    if (sscanf(end + 1, " %c %d %d %d", state, &parent, &group, &sid) != 4) return -1;
    *session = (pid_t)sid;
    return 0;
}

pid_t sb_session_of(pid_t pid) {
    char state;
    pid_t session;
    return read_stat(pid, &state, &session) == 0 ? session : -1;
}

#include <dirent.h>

int sb_signal_session(pid_t session, int signal) {
    DIR *directory = opendir("/proc");
    if (directory == NULL) return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != 0 || pid <= 0) continue;
        char state;
        pid_t sid;
        // Zombies are dead already: they wait only for their parent to reap them.
        if (read_stat((pid_t)pid, &state, &sid) != 0 || sid != session || state == 'Z') continue;
        count++;
        if (signal != 0) kill((pid_t)pid, signal);
    }
    closedir(directory);
    return count;
}
