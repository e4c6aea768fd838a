/*
 * Opening or stat()ing a file without following symbolic links (the
 * walk of nginx's disable_symlinks; wm_nolinks.c).
 */
#ifndef WM_NOLINKS_H
#define WM_NOLINKS_H

#include "wm_core.h"

#include <sys/stat.h>

typedef enum {
    WM_NOLINKS_ON = 1,           /* no link anywhere on the path */
    WM_NOLINKS_IF_NOT_OWNER = 2, /* a link only to what its owner owns */
} wm_nolinks_mode_t;

/*
 * Opens path (absolute) with open(2) flags, or with st not NULL fills
 * *st as stat(2) would and returns 0, refusing a symbolic link in any
 * component after the first from bytes (from: a prefix of path ending
 * at a component, in which links are allowed; 0, or a from that is not
 * such a prefix: the whole path is checked). -1 with errno: ELOOP for a
 * refused link (with WM_NOLINKS_ON, ENOTDIR for one on the way, as an
 * open with O_NOFOLLOW and O_DIRECTORY says, which nginx answers with
 * 404), else the error of the component that failed (ENOENT, ENOTDIR,
 * EACCES, ...); EINVAL for a relative path.
 */
int wm_nolinks_open(const char *path, size_t from, wm_nolinks_mode_t mode,
                    int flags, struct stat *st);

#endif
