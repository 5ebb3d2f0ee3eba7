/* An LD_PRELOAD shim that makes fsync/fdatasync as slow as a cheap tablet's eMMC.
 *
 * Each call does the real sync, then sleeps KYCDESK_FSYNC_DELAY_MS milliseconds (read
 * once; fractions allowed) and counts itself: kycdesk_fsync_count() returns the number
 * of syncs so far (benchmarks read it with ctypes). Built by benchmarks/slowdisk.py.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static atomic_long sync_count;
static long delay_ns = -1;

static void slow_down(void) {
    if (delay_ns < 0) {
        const char *value = getenv("KYCDESK_FSYNC_DELAY_MS");
        delay_ns = value ? (long)(atof(value) * 1e6) : 0;
    }
    atomic_fetch_add(&sync_count, 1);
    if (delay_ns > 0) {
        struct timespec left = {delay_ns / 1000000000L, delay_ns % 1000000000L};
        while (nanosleep(&left, &left) != 0) {
        }
    }
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int result = real(fd);
    slow_down();
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int result = real(fd);
    slow_down();
    return result;
}

long kycdesk_fsync_count(void) { return atomic_load(&sync_count); }
