// A file descriptor owned by one object and closed when it goes out of scope; open it
// with O_CLOEXEC (or pipe2's), so a program another thread starts never inherits it.
//
//   pgstack::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
//   if (!fd) return {};                 // open failed
//   ::read(fd.get(), buffer, size);     // closed at the end of the scope
#pragma once

namespace pgstack {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;  // gives the descriptor up without closing it
  void reset() noexcept;   // closes it now

 private:
  int fd_ = -1;
};

}  // namespace pgstack
