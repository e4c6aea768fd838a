/*
 * Unit tests of opening files without following symbolic links
 * (wm_nolinks.c), on a tree made in a temporary directory: plain files
 * and directories open; a link to a directory on the way (ENOTDIR, as
 * nginx's O_NOFOLLOW open gets) and a link as the last component (ELOOP)
 * are refused with "on", and with if_not_owner when the owners differ (as root only: the test gives the
 * target to another user); if_not_owner follows a link whose target has
 * its owner; a link inside the from= prefix is allowed, one after it is
 * not, and a from= that does not end at a component checks everything;
 * stat() reports the file's own data; a missing file gives ENOENT; a
 * relative path EINVAL.
 */
#include "wm_nolinks.h"

#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char top[256];

static const char *
at(const char *rel)
{
    static char buf[4][512];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", top, rel);
    return buf[k];
}

/* errno of a refused or failed open, 0 when it opened. */
static int
try_open(const char *rel, size_t from, wm_nolinks_mode_t mode)
{
    int fd = wm_nolinks_open(at(rel), from, mode, O_RDONLY, NULL);

    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

int
main(void)
{
    struct stat st;
    char buf[16];
    int fd, failed = 0;
    ssize_t n;

    snprintf(top, sizeof(top), "/tmp/wm-nolinks.XXXXXX");
    if (mkdtemp(top) == NULL) {
        diag("mkdtemp failed");
        return 1;
    }
    failed |= mkdir(at("root"), 0755);
    failed |= mkdir(at("root/a"), 0755);
    fd = open(at("root/a/f.txt"), O_WRONLY | O_CREAT, 0644);
    failed |= fd < 0 || write(fd, "file\n", 5) != 5;
    close(fd);
    failed |= symlink("a", at("root/dlink"));
    failed |= symlink("f.txt", at("root/a/flink"));
    failed |= symlink("root", at("real"));
    ok(!failed, "the tree is made");

    is_int(try_open("root/a/f.txt", 0, WM_NOLINKS_ON), 0, "a plain file opens");
    fd = wm_nolinks_open(at("root/a/f.txt"), 0, WM_NOLINKS_ON, O_RDONLY, NULL);
    n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
    is_int(n, 5, "and reads as the file");
    if (fd >= 0) {
        close(fd);
    }
    is_int(try_open("root/dlink/f.txt", 0, WM_NOLINKS_ON), ENOTDIR,
           "a link to a directory on the way: ENOTDIR");
    is_int(try_open("root/a/flink", 0, WM_NOLINKS_ON), ELOOP,
           "a link as the last component: ELOOP");
    is_int(try_open("real/a/f.txt", 0, WM_NOLINKS_ON), ENOTDIR,
           "a link at the top: ENOTDIR");
    is_int(try_open("root/a/none", 0, WM_NOLINKS_ON), ENOENT,
           "a missing file: ENOENT");
    is_int(try_open("root/a/f.txt/x", 0, WM_NOLINKS_ON), ENOTDIR,
           "a file used as a directory: ENOTDIR");

    /* from=: links inside the prefix are the admin's */
    is_int(try_open("real/a/f.txt", strlen(at("real")), WM_NOLINKS_ON), 0,
           "from= covering the link: it opens");
    is_int(try_open("real/a/flink", strlen(at("real")), WM_NOLINKS_ON), ELOOP,
           "from=: a link after the prefix is still refused");
    is_int(try_open("real/a/f.txt", strlen(at("rea")), WM_NOLINKS_ON), ENOTDIR,
           "from= not ending at a component: the whole path is checked");
    is_int(try_open("real/a/f.txt", strlen(at("real/")), WM_NOLINKS_ON), 0,
           "from= with its trailing slash");

    is_int(try_open("root/dlink/f.txt", 0, WM_NOLINKS_IF_NOT_OWNER), 0,
           "if_not_owner: a link to what its owner owns is followed");
    is_int(try_open("root/a/flink", 0, WM_NOLINKS_IF_NOT_OWNER), 0,
           "if_not_owner: also as the last component");

    ok(wm_nolinks_open(at("root/a"), 0, WM_NOLINKS_ON, 0, &st) == 0
           && S_ISDIR(st.st_mode),
       "stat() of a directory");
    ok(wm_nolinks_open(at("root/a/"), 0, WM_NOLINKS_ON, 0, &st) == 0
           && S_ISDIR(st.st_mode),
       "with a trailing slash");
    ok(wm_nolinks_open(at("root/a/f.txt"), 0, WM_NOLINKS_ON, 0, &st) == 0
           && S_ISREG(st.st_mode) && st.st_size == 5,
       "stat() of a file: its size");
    ok(wm_nolinks_open(at("root/dlink/"), 0, WM_NOLINKS_ON, 0, &st) == -1
           && errno == ELOOP,
       "stat() through a link: ELOOP");
    ok(wm_nolinks_open(at("root/dlink"), 0, WM_NOLINKS_IF_NOT_OWNER, 0, &st)
               == 0
           && S_ISDIR(st.st_mode),
       "stat() through an allowed link: the target's data");
    ok(wm_nolinks_open("root/a/f.txt", 0, WM_NOLINKS_ON, O_RDONLY, NULL) == -1
           && errno == EINVAL,
       "a relative path: EINVAL");

    if (geteuid() == 0) {
        /* the target given to another user: the link's owner differs */
        ok(chown(at("root/a/f.txt"), 65534, 65534) == 0, "chown to nobody");
        is_int(try_open("root/a/flink", 0, WM_NOLINKS_IF_NOT_OWNER), ELOOP,
               "if_not_owner: a link to another user's file: ELOOP");
        is_int(try_open("root/a/f.txt", 0, WM_NOLINKS_IF_NOT_OWNER), 0,
               "the file itself still opens");
    } else {
        diag("not root: the owner case is skipped");
    }

    unlink(at("real"));
    unlink(at("root/a/flink"));
    unlink(at("root/dlink"));
    unlink(at("root/a/f.txt"));
    rmdir(at("root/a"));
    rmdir(at("root"));
    rmdir(top);
    return tap_done();
}
