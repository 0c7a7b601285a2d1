/* Benchmark floor: the least a full TCP state count can cost. One walk of
 * the kernel's TCP table for both address families (TCPDIAG_GETSOCK with
 * AF_UNSPEC, as sockpush and collectd ask), counting the state byte of each
 * message; nothing else. Prints the median CPU ms per pass and the
 * TIME_WAIT count. Usage: netlink_count PASSES */
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned long counts[16];

static void dump(int fd) {
  struct {
    struct nlmsghdr h;
    struct inet_diag_req r;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = TCPDIAG_GETSOCK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.idiag_family = AF_UNSPEC;
  req.r.idiag_states = 0xFFE;
  send(fd, &req, sizeof req, 0);
  static char buf[32768];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    for (struct nlmsghdr* h = (struct nlmsghdr*)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return;
      counts[((struct inet_diag_msg*)NLMSG_DATA(h))->idiag_state & 15]++;
    }
  }
}

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  int passes = argc > 1 ? atoi(argv[1]) : 30;
  if (passes < 1 || passes > 1000) passes = 30;
  int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
  double ms[1000];
  for (int i = 0; i < passes; ++i) {
    memset(counts, 0, sizeof counts);
    double t0 = cpu_ms();
    dump(fd);
    ms[i] = cpu_ms() - t0;
  }
  qsort(ms, (size_t)passes, sizeof ms[0], by_value);
  printf("%.3f %lu\n", ms[passes / 2], counts[6]);
  return 0;
}
