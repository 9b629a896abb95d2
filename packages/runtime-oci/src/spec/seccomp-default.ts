/**
 * The RuntimeDefault seccomp profile as data: which syscalls a container may
 * make, and under which condition (a capability, an architecture, a kernel).
 * The effect matches moby's / containerd's default profile; `seccomp.ts` turns
 * it into a runtime-spec `linux.seccomp` for one container.
 */
import type { OciSeccompArg } from "./types.js";

/** When a rule applies: every listed condition must hold (moby's `includes` / `excludes` semantics). */
export interface SeccompCondition {
  /** All of these capabilities are in the bounding set. */
  caps?: string[];
  /** The host architecture, in Go's names (amd64, arm64, arm, 386, x32, s390x, ppc64le, riscv64). */
  arches?: string[];
  /** The kernel is at least this version ("4.8"). */
  minKernel?: string;
}

/** One rule of a profile template: the OCI rule plus when it is included or excluded. */
export interface SeccompRuleTemplate {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
  includes?: SeccompCondition;
  excludes?: SeccompCondition;
}

export interface SeccompTemplate {
  defaultAction: string;
  defaultErrnoRet?: number;
  syscalls: SeccompRuleTemplate[];
}

const words = (s: string): string[] => s.split(/\s+/).filter((w) => w !== "");

/** EPERM: what a denied syscall returns, so programs see "Operation not permitted" rather than a crash. */
export const EPERM = 1;
/** ENOSYS: "not implemented", which makes glibc fall back from clone3 to clone (where flags can be checked). */
export const ENOSYS = 38;

/** The namespace flags of clone(2): CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET. */
export const CLONE_NAMESPACE_FLAGS =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** AF_VSOCK: host↔guest sockets, denied to containers. */
export const AF_VSOCK = 40;

/** Syscalls every container may make, whatever its capabilities. */
export const DEFAULT_ALLOWED_SYSCALLS: readonly string[] = words(`
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
  eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
  fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
  flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
  ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32
  geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
  getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list
  getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
  io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter
  io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset
  landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek
  lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir
  mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
  mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
  msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
  openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
  ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
  pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
  recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
  rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
  rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
  sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
  sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
  setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
  setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
  setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
  socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
  syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
  timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
  timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
  utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`);

/** Syscalls a capability unlocks (the kernel checks the capability too; seccomp only stops reaching it without). */
export const CAPABILITY_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_SYS_ADMIN: words(`
    bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
    move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
    umount umount2 unshare
  `),
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "init_module", "finit_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: [
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
  ],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYS_NICE: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
  CAP_SYSLOG: ["syslog"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
};

/** Architecture-specific syscalls, by Go architecture name. */
const ARCH_SYSCALLS: { names: string[]; arches: string[] }[] = [
  { names: ["sync_file_range2", "swapcontext"], arches: ["ppc64le"] },
  {
    names: [
      "arm_fadvise64_64",
      "arm_sync_file_range",
      "sync_file_range2",
      "breakpoint",
      "cacheflush",
      "set_tls",
    ],
    arches: ["arm", "arm64"],
  },
  { names: ["arch_prctl"], arches: ["amd64", "x32"] },
  { names: ["modify_ldt"], arches: ["amd64", "x32", "x86"] },
  { names: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"], arches: ["s390", "s390x"] },
  { names: ["riscv_flush_icache"], arches: ["riscv64"] },
];

/** personality(2) personas a container may switch to: PER_LINUX, PER_LINUX32, UNAME26 variants, and the query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

const allow = (
  names: string[],
  more: Omit<SeccompRuleTemplate, "names" | "action"> = {},
): SeccompRuleTemplate => ({
  names,
  action: "SCMP_ACT_ALLOW",
  ...more,
});

/** The RuntimeDefault template: deny (EPERM) everything not allowed below. */
export const RUNTIME_DEFAULT_TEMPLATE: SeccompTemplate = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: EPERM,
  syscalls: [
    allow([...DEFAULT_ALLOWED_SYSCALLS]),
    // Tracing a process of one's own uid became safe under seccomp in 4.8
    // (earlier kernels let a tracer skip the filter).
    allow(["process_vm_readv", "process_vm_writev", "ptrace"], { includes: { minKernel: "4.8" } }),
    allow(["socket"], { args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_NE" }] }),
    ...PERSONALITIES.map((p) =>
      allow(["personality"], { args: [{ index: 0, value: p, op: "SCMP_CMP_EQ" }] }),
    ),
    ...ARCH_SYSCALLS.map((g) => allow(g.names, { includes: { arches: g.arches } })),
    ...Object.entries(CAPABILITY_SYSCALLS).map(([cap, names]) =>
      allow([...names], { includes: { caps: [cap] } }),
    ),
    // Without CAP_SYS_ADMIN, clone only without namespace flags: the flags
    // word is argument 0, except on s390 where it is argument 1.
    allow(["clone"], {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      excludes: { caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"] },
    }),
    allow(["clone"], {
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      includes: { arches: ["s390", "s390x"] },
      excludes: { caps: ["CAP_SYS_ADMIN"] },
    }),
    // clone3 passes its flags in memory, where seccomp cannot look: answer
    // ENOSYS so the C library retries with clone, which the rule above checks.
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS, excludes: { caps: ["CAP_SYS_ADMIN"] } },
  ],
};
