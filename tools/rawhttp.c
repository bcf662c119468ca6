/* rawhttp.c - a test client that sends bytes as they are: what curl will
 * not send (a bare CR, chunked with Content-Length, a 1 GB Content-Length
 * with no body) and what it will not do (half-close after the request,
 * never read the answer).
 *
 *   rawhttp HOST:PORT [--half-close] [--no-read S] [--timeout S] < REQUEST
 *
 * Connects (IPv4), writes stdin's bytes, then with --half-close shuts down
 * its write side (shutdown(SHUT_WR)); then reads the answer until the
 * server closes or --timeout S (default 10) passes, and copies it to
 * stdout. --no-read S: read nothing for S seconds (the server's output
 * backs up; the receive buffer is made small), then close. Exit 0 once something was read (or after
 * --no-read), 1 on a connect or write error or nothing read, 2 on usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define REQ_CAP ((size_t)64 << 20)

static int usage(void)
{
    fprintf(stderr, "usage: rawhttp HOST:PORT [--half-close] [--no-read S] "
            "[--timeout S] < REQUEST\n");
    return 2;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int half = 0;
    double timeout = 10, no_read = -1;
    if (argc < 2)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--half-close") == 0)
            half = 1;
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--no-read") == 0 && i + 1 < argc)
            no_read = strtod(argv[++i], NULL);
        else
            return usage();
    }
    char host[64];
    const char *colon = strrchr(argv[1], ':');
    if (colon == NULL || (size_t)(colon - argv[1]) >= sizeof host)
        return usage();
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)strtol(colon + 1, NULL, 10));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return usage();

    char *req = malloc(REQ_CAP);
    size_t len = 0;
    ssize_t n;
    if (req == NULL)
        return 1;
    while (len < REQ_CAP && (n = read(0, req + len, REQ_CAP - len)) > 0)
        len += (size_t)n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && no_read >= 0) {
        int small = 4096; /* a reader that never reads: a small window */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "rawhttp: connect %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    for (size_t off = 0; off < len;) {
        n = write(fd, req + off, len - off);
        if (n <= 0) {
            fprintf(stderr, "rawhttp: write: %s\n", strerror(errno));
            return 1;
        }
        off += (size_t)n;
    }
    free(req);
    if (half)
        shutdown(fd, SHUT_WR);
    if (no_read >= 0) {
        struct timespec ts = {(time_t)no_read,
                              (long)((no_read - (double)(time_t)no_read) * 1e9)};
        nanosleep(&ts, NULL);
        close(fd);
        return 0;
    }
    double end = now_s() + timeout;
    size_t got = 0;
    char buf[65536];
    for (;;) {
        double left = end - now_s();
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            break;
        n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            return 1;
        got += (size_t)n;
    }
    close(fd);
    return got > 0 ? 0 : 1;
}
