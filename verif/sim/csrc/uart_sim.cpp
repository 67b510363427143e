// SPDX-License-Identifier: Apache-2.0
// The simulated board: the Verilator model of tessera_fpga_ulx3s behind a pseudo-terminal.
//
// Built by tessera_sim::uart_sim (verilator --cc --exe --build) with -GClksPerBit=<n> and
// -DCLKS_PER_BIT=<n>, and verif/sim/csrc/uart_sim.vlt (two status signals of the bridge made
// readable). On start it opens a pseudo-terminal in raw mode, releases the board's reset and
// prints one line on stdout, `PTY <slave path>`. Then bytes read from the pty master are shifted
// onto ftdi_txd (8N1, CLKS_PER_BIT cycles per bit, back to back), and bits sampled on ftdi_rxd
// in the middle of each bit are assembled into bytes and written to the pty master.
//
// Pacing: the clock runs freely while a byte is on either line or the bridge executes or
// answers a request. While the bridge waits inside a frame for more bytes, the model advances
// one byte time per millisecond of wall time, so the frame timeout (IdleBytes byte times) never
// abandons a frame that the host is still writing. When the link is idle the model runs on for
// kRunOnCycles cycles (the chip finishes what the last request started) and then sleeps until
// a byte arrives. It exits when its stdin reaches end of file, or on SIGTERM or SIGINT.

#include "Vtessera_fpga_ulx3s.h"
#include "Vtessera_fpga_ulx3s___024root.h"
#include "verilated.h"
#include "coverage.h"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLKS_PER_BIT
#error "CLKS_PER_BIT must be defined"
#endif

static constexpr int kClksPerBit = CLKS_PER_BIT;
static constexpr int kByteCycles = 10 * kClksPerBit;
static constexpr uint64_t kRunOnCycles = 1 << 16;
static constexpr uint64_t kResetCycles = 2048;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int) { stop_requested = 1; }

static Vtessera_fpga_ulx3s* m;
static uint64_t cycles = 0;

// Host to board: the byte being shifted onto ftdi_txd.
static std::deque<uint8_t> to_board;
static uint16_t tx_shift = 0;
static int tx_bits = 0;  // bits left, start and stop included
static int tx_cnt = 0;

// Board to host: the receiver on ftdi_rxd.
enum RxState { kRxIdle, kRxStart, kRxData, kRxStop };
static RxState rx_state = kRxIdle;
static int rx_cnt = 0;
static int rx_bit = 0;
static uint8_t rx_byte = 0;
static std::string to_host;
static uint64_t framing_errors = 0;

static bool bridge_rx_frame() {
  return m->rootp->tessera_fpga_ulx3s__DOT__u_bridge__DOT__rx_frame;
}

static bool bridge_busy() {
  return m->rootp->tessera_fpga_ulx3s__DOT__u_bridge__DOT__ex_busy;
}

// One clock cycle: the line toward the board changes after the rising edge.
static void step() {
  if (tx_bits == 0 && !to_board.empty()) {
    tx_shift = static_cast<uint16_t>(0x200u | (static_cast<unsigned>(to_board.front()) << 1));
    to_board.pop_front();
    tx_bits = 10;
    tx_cnt = 0;
  }
  m->ftdi_txd = tx_bits ? (tx_shift & 1u) : 1u;
  m->clk_25mhz = 0;
  m->eval();
  m->clk_25mhz = 1;
  m->eval();
  cycles++;
  if (tx_bits && ++tx_cnt == kClksPerBit) {
    tx_cnt = 0;
    tx_shift >>= 1;
    tx_bits--;
  }
  const bool line = m->ftdi_rxd;
  switch (rx_state) {
    case kRxIdle:
      if (!line) {
        rx_state = kRxStart;
        rx_cnt = 0;
      }
      break;
    case kRxStart:
      if (++rx_cnt == kClksPerBit / 2) {
        rx_cnt = 0;
        rx_bit = 0;
        rx_byte = 0;
        rx_state = line ? kRxIdle : kRxData;
      }
      break;
    case kRxData:
      if (++rx_cnt == kClksPerBit) {
        rx_cnt = 0;
        rx_byte = static_cast<uint8_t>(rx_byte | (line ? 1u << rx_bit : 0u));
        if (++rx_bit == 8) rx_state = kRxStop;
      }
      break;
    case kRxStop:
      if (++rx_cnt == kClksPerBit) {
        if (line) to_host.push_back(static_cast<char>(rx_byte));
        else framing_errors++;
        rx_state = kRxIdle;
      }
      break;
  }
}

static bool line_busy() { return tx_bits != 0 || !to_board.empty() || rx_state != kRxIdle; }

static int master_fd = -1;

// Moves bytes between the pty and the queues; waits up to timeout_ms for something to happen.
// Returns false when the bench is to stop.
static bool exchange(int timeout_ms) {
  pollfd fds[2];
  fds[0].fd = master_fd;
  fds[0].events = static_cast<short>(POLLIN | (to_host.empty() ? 0 : POLLOUT));
  fds[0].revents = 0;
  fds[1].fd = STDIN_FILENO;
  fds[1].events = POLLIN;
  fds[1].revents = 0;
  int r = poll(fds, 2, timeout_ms);
  if (stop_requested) return false;
  if (r < 0) return errno == EINTR;
  if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
    char buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return false;
  }
  if (fds[0].revents & POLLIN) {
    uint8_t buf[4096];
    ssize_t n = read(master_fd, buf, sizeof buf);
    for (ssize_t i = 0; i < n; i++) to_board.push_back(buf[i]);
  }
  if (!to_host.empty()) {
    ssize_t n = write(master_fd, to_host.data(), to_host.size());
    if (n > 0) to_host.erase(0, static_cast<size_t>(n));
  }
  return true;
}

static void run(uint64_t n) {
  for (uint64_t i = 0; i < n; i++) step();
}

int main(int argc, char** argv) {
  Verilated::commandArgs(argc, argv);

  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  master_fd = posix_openpt(O_RDWR | O_NOCTTY);
  if (master_fd < 0 || grantpt(master_fd) != 0 || unlockpt(master_fd) != 0) {
    std::perror("uart_sim: pseudo-terminal");
    return 1;
  }
  const char* slave = ptsname(master_fd);
  if (!slave) {
    std::perror("uart_sim: ptsname");
    return 1;
  }
  std::string slave_path = slave;
  // The bench keeps the slave open: the terminal stays raw and the master never sees a hang-up
  // between two clients.
  int slave_fd = open(slave_path.c_str(), O_RDWR | O_NOCTTY);
  if (slave_fd < 0) {
    std::perror("uart_sim: open slave");
    return 1;
  }
  termios tio;
  if (tcgetattr(slave_fd, &tio) != 0) {
    std::perror("uart_sim: tcgetattr");
    return 1;
  }
  cfmakeraw(&tio);
  if (tcsetattr(slave_fd, TCSANOW, &tio) != 0) {
    std::perror("uart_sim: tcsetattr");
    return 1;
  }
  fcntl(master_fd, F_SETFL, fcntl(master_fd, F_GETFL) | O_NONBLOCK);

  m = new Vtessera_fpga_ulx3s;
  m->btn = 0x01;  // btn[0] released (active low), the others released
  m->ftdi_txd = 1;
  m->clk_25mhz = 0;
  m->eval();
  run(kResetCycles);

  std::printf("PTY %s\n", slave_path.c_str());
  std::fflush(stdout);

  uint64_t run_on = kRunOnCycles;
  for (;;) {
    bool ok;
    if (line_busy() || bridge_busy()) {
      run(kByteCycles);
      run_on = kRunOnCycles;
      ok = exchange(0);
    } else if (bridge_rx_frame()) {
      // Inside a frame, waiting for the host's next byte.
      run(kByteCycles);
      run_on = kRunOnCycles;
      ok = exchange(1);
    } else if (run_on > 0) {
      run(kByteCycles);
      run_on = run_on > kByteCycles ? run_on - kByteCycles : 0;
      ok = exchange(0);
    } else {
      ok = exchange(to_host.empty() ? 100 : 1);
    }
    if (!ok || stop_requested) break;
  }
  if (framing_errors) {
    std::fprintf(stderr, "uart_sim: %llu bytes from the board had framing errors\n",
                 static_cast<unsigned long long>(framing_errors));
  }
  m->final();
  tessera::write_coverage(m->contextp(), "tessera_fpga_ulx3s");
  delete m;
  close(slave_fd);
  close(master_fd);
  return 0;
}
