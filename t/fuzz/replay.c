/*
 * Replays a fuzz target's committed corpus without libFuzzer, so that a gcc
 * build runs every corpus file as a regression test. Linked with one
 * target's LLVMFuzzerTestOneInput; prints TAP, one line per file. The
 * corpus is $WM_SRCDIR/t/fuzz/corpus/<target>/, <target> being the
 * program's name without the `fuzz_` prefix, or the directories given as
 * arguments.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n;

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long len;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        printf("not ok %d - %s: cannot read\n", ++n, path);
        if (f) {
            fclose(f);
        }
        return 1;
    }
    buf = malloc(len ? (size_t) len : 1);
    if (buf == NULL || fread(buf, 1, (size_t) len, f) != (size_t) len) {
        printf("not ok %d - %s: cannot read\n", ++n, path);
        free(buf);
        fclose(f);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t) len);
    free(buf);
    /* A crash or sanitizer report ends the process before this line. */
    printf("ok %d - %s\n", ++n, path);
    fflush(stdout);
    return 0;
}

static int
replay_dir(const char *dir)
{
    struct dirent **names;
    int i, count, failed = 0;
    char path[4096];

    count = scandir(dir, &names, NULL, alphasort);
    if (count < 0) {
        printf("not ok %d - corpus %s: cannot open\n", ++n, dir);
        return 1;
    }
    for (i = 0; i < count; i++) {
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0
            && S_ISREG(st.st_mode))
        {
            failed |= replay_file(path);
        }
        free(names[i]);
    }
    free(names);
    return failed;
}

int
main(int argc, char **argv)
{
    const char *src = getenv("WM_SRCDIR");
    const char *base = strrchr(argv[0], '/');
    char dir[4096];
    int i, failed = 0;

    base = base ? base + 1 : argv[0];
    if (strncmp(base, "fuzz_", 5) == 0) {
        base += 5;
    }
    if (argc > 1) {
        for (i = 1; i < argc; i++) {
            failed |= replay_dir(argv[i]);
        }
    } else {
        snprintf(dir, sizeof(dir), "%s/t/fuzz/corpus/%s", src ? src : ".",
                 base);
        failed |= replay_dir(dir);
    }
    printf("1..%d\n", n);
    return failed;
}
