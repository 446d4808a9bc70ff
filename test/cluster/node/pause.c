/*
 * The sandbox ("pause") container of the real node's pods: holds the pod's namespaces, reaps the
 * zombies of a shared process namespace, and exits 0 on SIGINT or SIGTERM. Built static by the
 * harness (gcc -static) into a FROM-scratch image, since no registry is reachable here.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("kwp-pause 1");
    return 0;
  }
  if (getpid() != 1) fputs("kwp-pause: warning: not running as pid 1\n", stderr);
  struct sigaction exit_on = {.sa_handler = stop};
  struct sigaction reap_on = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &exit_on, NULL) < 0 || sigaction(SIGTERM, &exit_on, NULL) < 0 || sigaction(SIGCHLD, &reap_on, NULL) < 0) {
    perror("kwp-pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
