/*
 * Opening a file without following symbolic links (nginx's
 * disable_symlinks): the path is walked one component at a time from the
 * root, or from a prefix in which links are allowed, each component
 * looked at with fstatat(AT_SYMLINK_NOFOLLOW) and opened relative to the
 * directory before it (O_PATH, O_NOFOLLOW), so that a link anywhere on
 * the way is seen, and one that appears between the look and the open is
 * not followed.
 */
#include "wm_nolinks.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* The directory where the walk starts: from's directory, or "/". *rest
 * is what is left of path to walk. -1 with errno when it cannot open. */
static int
wm_nolinks_start(const char *path, size_t from, const char **rest)
{
    char dir[PATH_MAX];
    size_t len = strlen(path);

    if (from && from <= len && from < sizeof(dir)
        && (path[from] == '/' || path[from] == '\0' || path[from - 1] == '/'))
    {
        memcpy(dir, path, from);
        dir[from] = '\0';
        *rest = path + from;
        return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    *rest = path;
    return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int
wm_nolinks_open(const char *path, size_t from, wm_nolinks_mode_t mode,
                int flags, struct stat *st)
{
    char name[NAME_MAX + 1];
    const char *p, *end;
    struct stat lst, tst;
    int dirfd, fd, err;
    bool follow;

    if (path[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    dirfd = wm_nolinks_start(path, from, &p);
    if (dirfd < 0) {
        return -1;
    }
    for (;;) {
        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            /* the start itself: "/", or from= the whole path */
            strcpy(name, ".");
            end = p;
        } else {
            end = strchr(p, '/');
            end = end ? end : p + strlen(p);
            if ((size_t) (end - p) > NAME_MAX) {
                err = ENAMETOOLONG;
                goto failed;
            }
            memcpy(name, p, (size_t) (end - p));
            name[end - p] = '\0';
        }
        p = end;
        while (*p == '/') {
            p++;
        }
        if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
            err = errno;
            goto failed;
        }
        follow = false;
        if (S_ISLNK(lst.st_mode)) {
            if (mode == WM_NOLINKS_ON) {
                /* as open(O_NOFOLLOW), with O_DIRECTORY on the way */
                err = *p != '\0' ? ENOTDIR : ELOOP;
                goto failed;
            }
            if (fstatat(dirfd, name, &tst, 0) != 0
                || tst.st_uid != lst.st_uid)
            {
                err = ELOOP;
                goto failed;
            }
            follow = true; /* if_not_owner: the same owner */
            lst = tst;
        }
        if (*p != '\0') {
            fd = openat(dirfd, name,
                        O_PATH | O_DIRECTORY | O_CLOEXEC
                            | (follow ? 0 : O_NOFOLLOW));
            err = errno;
            close(dirfd);
            if (fd < 0) {
                errno = err;
                return -1;
            }
            dirfd = fd;
            continue;
        }
        if (st) {
            *st = lst;
            close(dirfd);
            return 0;
        }
        fd = openat(dirfd, name, flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
        err = errno;
        close(dirfd);
        errno = err;
        return fd;
    }

failed:
    close(dirfd);
    errno = err;
    return -1;
}
