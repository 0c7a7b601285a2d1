#include "sockpush/intake/exec_job.hpp"

#include "sockpush/intake/stream_feed.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

extern char** environ;

namespace sockpush {
namespace {

constexpr std::size_t pipe_read_bytes = 16 * 1024;
constexpr auto reap_poll_first = std::chrono::milliseconds(2);
constexpr auto reap_poll_max = std::chrono::milliseconds(200);

/// Asio opens sockets without O_CLOEXEC; a job must not inherit the carbon
/// connection or a listening socket (it would keep the port busy after the
/// daemon exits). Marking everything before each spawn covers them all.
void mark_descriptors_close_on_exec() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return;
  int own = ::dirfd(dir);
  while (auto* entry = ::readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd > 2 && fd != own) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  ::closedir(dir);
}

/// A started job: its pid and our ends of its stdout and stderr pipes.
struct spawned {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
};

/// posix_spawn with stdin from /dev/null, its own process group (so a
/// timeout kills its children too) and default SIGPIPE (we ignore it; the
/// job's shell pipelines must not). Returns an error text on failure.
std::string spawn(const std::vector<std::string>& command, spawned& job) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::strerror(errno);
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    return std::strerror(e);
  }
  mark_descriptors_close_on_exec();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int rc = ::posix_spawnp(&job.pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return std::strerror(rc);
  }
  job.out = out[0];
  job.err = err[0];
  return {};
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "ended";
}

}  // namespace

exec_job::exec_job(asio::io_context& io, exec_config cfg, milliseconds default_interval,
                   const std::string& prefix, line_intake& intake)
    : io_(io),
      cfg_(std::move(cfg)),
      prefix_(prefix),
      rules_(intake.rules()),
      intake_(intake),
      origin_("exec job " + cfg_.name),
      schedule_(cfg_.interval.count() > 0 ? cfg_.interval : default_interval),
      round_timer_(io) {
  if (cfg_.interval.count() == 0) cfg_.interval = default_interval;
  if (cfg_.timeout.count() == 0) cfg_.timeout = cfg_.interval;
  if (cfg_.prefix) rules_.prefix = prefix_;
}

exec_job::~exec_job() {
  stop();
}

void exec_job::start() {
  asio::co_spawn(io_, run_on_schedule(), rethrow_if_failed);
}

void exec_job::stop() {
  stopped_ = true;
  round_timer_.cancel();
  kill_group();
}

void exec_job::kill_group() {
  if (running_ > 0) ::kill(-running_, SIGKILL);
}

asio::awaitable<void> exec_job::run_on_schedule() {
  while (!stopped_) {
    round_timer_.expires_after(schedule_.wait());
    error_code ec;
    co_await round_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    co_await run_once(schedule_.due());
    if (auto skipped = schedule_.advance(); skipped > 0) {
      stats_.skipped += skipped;
      spdlog::warn("{}: the run took longer than its interval; {} round(s) skipped", origin_,
                   skipped);
    }
  }
}

asio::awaitable<void> exec_job::run_once(std::int64_t timestamp) {
  spawned job;
  if (auto why = spawn(cfg_.command, job); !why.empty()) {
    ++stats_.failures;
    auto message = fmt::format("cannot start {}: {}", cfg_.command.front(), why);
    if (message != last_failure_) spdlog::error("{}: {}", origin_, message);
    last_failure_ = message;
    co_return;
  }
  ++stats_.runs;
  running_ = job.pid;
  auto deadline = std::chrono::steady_clock::now() + cfg_.timeout;

  // Both pipes are read concurrently (a job that fills stderr must not
  // block on it while we wait for stdout); `done` wakes us as each ends.
  auto out = std::make_shared<asio::posix::stream_descriptor>(io_, job.out);
  auto err = std::make_shared<asio::posix::stream_descriptor>(io_, job.err);
  auto done = std::make_shared<asio::steady_timer>(io_);
  auto readers = std::make_shared<int>(2);
  auto reader_ended = [readers, done](std::exception_ptr e) {
    --*readers;
    done->cancel();
    rethrow_if_failed(e);
  };
  asio::co_spawn(
      io_, [this, out, timestamp]() { return forward_stdout(*out, timestamp); }, reader_ended);
  asio::co_spawn(
      io_, [this, err]() { return log_stderr(*err); }, reader_ended);

  bool timed_out = false;
  while (*readers > 0) {
    done->expires_at(deadline);
    error_code ec;
    co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !timed_out) {
      // Past the timeout: kill the group, and stop reading in case a
      // grandchild left the group still holds the pipes.
      timed_out = true;
      kill_group();
      error_code ignored;
      out->close(ignored);
      err->close(ignored);
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
  }

  const int status = co_await reap(job.pid, deadline, timed_out, *done);
  running_ = -1;
  record_end(timed_out, status);
}

asio::awaitable<int> exec_job::reap(pid_t pid, std::chrono::steady_clock::time_point deadline,
                                    bool& timed_out, asio::steady_timer& timer) {
  // Both pipes are closed; the process is exiting or about to. Poll for it
  // (no SIGCHLD handler: nothing else in the daemon has children).
  int status = 0;
  auto poll = reap_poll_first;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (!timed_out && std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      kill_group();
    }
    timer.expires_after(poll);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    poll = std::min(poll * 2, reap_poll_max);
  }
  co_return status;
}

void exec_job::record_end(bool timed_out, int status) {
  std::string failure;
  if (timed_out) {
    ++stats_.timeouts;
    failure = fmt::format("killed after its timeout of {} ms", cfg_.timeout.count());
  } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    ++stats_.failures;
    failure = describe_status(status);
  }
  if (failure != last_failure_) {
    if (failure.empty())
      spdlog::info("{}: runs normally again", origin_);
    else
      spdlog::warn("{}: {}", origin_, failure);
  }
  last_failure_ = failure;
}

asio::awaitable<void> exec_job::forward_stdout(asio::posix::stream_descriptor& pipe,
                                               std::int64_t timestamp) {
  stream_feed feed(intake_, origin_, rules_, pipe_read_bytes);
  asio::steady_timer pause(io_);
  // A timeout closes the pipe; what was read until then still counts.
  co_await feed.read(
      pipe, pause, [&] { return pipe.is_open(); }, [timestamp] { return timestamp; }, [] {});
  feed.finish(timestamp);
}

asio::awaitable<void> exec_job::log_stderr(asio::posix::stream_descriptor& pipe) {
  line_splitter splitter;
  auto on_line = [&](std::string_view line) {
    std::uint64_t held_back = 0;
    bool log = stderr_log_.allow(held_back);
    if (held_back > 0) spdlog::warn("{}: {} stderr lines not logged", origin_, held_back);
    if (log && !line.empty()) spdlog::warn("{}: stderr: {}", origin_, line.substr(0, 200));
  };
  std::vector<char> chunk(pipe_read_bytes);
  for (;;) {
    error_code ec;
    auto got = co_await pipe.async_read_some(asio::buffer(chunk),
                                             asio::redirect_error(asio::use_awaitable, ec));
    if (got > 0) splitter.feed(std::string_view(chunk.data(), got), on_line);
    if (ec) break;
  }
  splitter.finish(on_line);
}

}  // namespace sockpush
