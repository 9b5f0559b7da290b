// Implementation of the tile-IR interpreter. Values are kept unpacked: floats
// as doubles rounded to their element type after each op, integers, masks and
// pointers (byte addresses) as int64.
#include "runtime/Interpreter.h"

#include "dialect/TileOps.h"
#include "runtime/Half.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <array>
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

using namespace mlir;

namespace tessel {
namespace {

struct Val {
  Type elem;
  SmallVector<int64_t, 2> shape; // empty: scalar
  std::vector<double> f;         // float elements
  std::vector<int64_t> i;        // integer, i1 and pointer elements
  bool isFloat() const { return isa<FloatType>(elem); }
  size_t size() const { return isFloat() ? f.size() : i.size(); }
};
using ValPtr = std::shared_ptr<const Val>;

double roundTo(Type elem, double x) {
  if (elem.isF32())
    return static_cast<double>(static_cast<float>(x));
  if (elem.isBF16())
    return roundToBF16(x);
  if (elem.isF16())
    return roundToF16(x);
  return x;
}

int64_t wrapInt(Type elem, int64_t x) {
  if (elem.isInteger(1))
    return x & 1;
  if (elem.isInteger(32))
    return static_cast<int32_t>(static_cast<uint32_t>(x));
  return x;
}

size_t numElements(ArrayRef<int64_t> shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::shared_ptr<Val> makeVal(Type type) {
  auto v = std::make_shared<Val>();
  v->elem = tile::getElementTypeOrSelf(type);
  v->shape.assign(tile::getShapeOrScalar(type).begin(),
                  tile::getShapeOrScalar(type).end());
  size_t n = numElements(v->shape);
  if (v->isFloat())
    v->f.resize(n);
  else
    v->i.resize(n);
  return v;
}

/// An error raised while running; carries the op for its location.
struct Failure {
  std::string message;
};

std::string locString(Location loc) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto fl = dyn_cast<FileLineColLoc>(loc))
    os << fl.getFilename().getValue() << ":" << fl.getLine() << ":"
       << fl.getColumn();
  else
    os << loc;
  return s;
}

struct Buffer {
  uintptr_t begin, end;
  std::string name;
};

/// Runs one program instance.
class Instance {
public:
  Instance(const std::vector<Buffer> &buffers, const Grid &grid, int64_t pid[3],
           const std::atomic<bool> &stop, std::chrono::milliseconds flagTimeout)
      : buffers_(buffers), grid_(grid), stop_(stop), flagTimeout_(flagTimeout) {
    for (int a = 0; a < 3; ++a)
      pid_[a] = pid[a];
  }

  void bind(Value v, ValPtr val) { env_[v] = std::move(val); }

  void runBlock(Block &block) {
    for (Operation &op : block)
      runOp(op);
  }

  std::vector<ValPtr> yielded;

private:
  const Val &get(Value v) {
    auto it = env_.find(v);
    if (it == env_.end())
      fail(v.getDefiningOp(), "internal: value used before definition");
    return *it->second;
  }
  ValPtr getPtr(Value v) {
    get(v);
    return env_[v];
  }

  [[noreturn]] void fail(Operation *op, const std::string &message) {
    std::string where = op ? locString(op->getLoc()) : "<unknown>";
    std::string name = op ? op->getName().getStringRef().str() : "";
    throw Failure{where + ": error: " + name + ": " + message};
  }

  void checkAccess(Operation *op, int64_t addr, size_t bytes, const char *what) {
    uintptr_t a = static_cast<uintptr_t>(addr);
    if (last_ && a >= last_->begin && a + bytes <= last_->end)
      return;
    for (const Buffer &b : buffers_)
      if (a >= b.begin && a + bytes <= b.end) {
        last_ = &b;
        return;
      }
    std::string msg = std::string(what) + " of " + std::to_string(bytes) +
                      " bytes at address " + std::to_string(addr) +
                      " is outside every argument buffer";
    // Name the nearest buffer so the author sees by how much they overran.
    for (const Buffer &b : buffers_)
      if (a >= b.begin && a < b.end + (1 << 20))
        msg += " ('" + b.name + "' spans " + std::to_string(b.end - b.begin) +
               " bytes; this access is at byte offset " +
               std::to_string(static_cast<int64_t>(a - b.begin)) + ")";
    msg += "; mask the out-of-range lanes";
    fail(op, msg);
  }

  double readElem(Type elem, int64_t addr) {
    const char *p = reinterpret_cast<const char *>(addr);
    if (elem.isF32()) {
      float x;
      std::memcpy(&x, p, 4);
      return x;
    }
    uint16_t h;
    std::memcpy(&h, p, 2);
    return elem.isBF16() ? bf16BitsToFloat(h) : f16BitsToFloat(h);
  }
  int64_t readInt(Type elem, int64_t addr) {
    const char *p = reinterpret_cast<const char *>(addr);
    if (elem.isInteger(64)) {
      int64_t x;
      std::memcpy(&x, p, 8);
      return x;
    }
    if (elem.isInteger(32)) {
      int32_t x;
      std::memcpy(&x, p, 4);
      return x;
    }
    return *reinterpret_cast<const uint8_t *>(p) & 1;
  }
  void writeElem(Type elem, int64_t addr, double x) {
    char *p = reinterpret_cast<char *>(addr);
    if (elem.isF32()) {
      float v = static_cast<float>(x);
      std::memcpy(p, &v, 4);
    } else {
      uint16_t h = elem.isBF16() ? floatToBF16Bits(static_cast<float>(x))
                                 : floatToF16Bits(static_cast<float>(x));
      std::memcpy(p, &h, 2);
    }
  }
  void writeInt(Type elem, int64_t addr, int64_t x) {
    char *p = reinterpret_cast<char *>(addr);
    if (elem.isInteger(64))
      std::memcpy(p, &x, 8);
    else if (elem.isInteger(32)) {
      int32_t v = static_cast<int32_t>(x);
      std::memcpy(p, &v, 4);
    } else
      *reinterpret_cast<uint8_t *>(p) = static_cast<uint8_t>(x & 1);
  }

  template <typename F>
  void floatUnary(Operation *op, F fn) {
    const Val &a = get(op->getOperand(0));
    auto r = makeVal(op->getResult(0).getType());
    for (size_t k = 0; k < a.f.size(); ++k)
      r->f[k] = roundTo(r->elem, fn(a.f[k]));
    bind(op->getResult(0), r);
  }
  template <typename F>
  void floatBinary(Operation *op, F fn) {
    const Val &a = get(op->getOperand(0));
    const Val &b = get(op->getOperand(1));
    auto r = makeVal(op->getResult(0).getType());
    for (size_t k = 0; k < a.f.size(); ++k)
      r->f[k] = roundTo(r->elem, fn(a.f[k], b.f[k]));
    bind(op->getResult(0), r);
  }
  template <typename F>
  void intBinary(Operation *op, F fn) {
    const Val &a = get(op->getOperand(0));
    const Val &b = get(op->getOperand(1));
    auto r = makeVal(op->getResult(0).getType());
    for (size_t k = 0; k < a.i.size(); ++k)
      r->i[k] = wrapInt(r->elem, fn(a.i[k], b.i[k]));
    bind(op->getResult(0), r);
  }
  template <typename F>
  void intDivide(Operation *op, F fn) {
    const Val &b = get(op->getOperand(1));
    for (int64_t x : b.i)
      if (x == 0)
        fail(op, "integer division by zero");
    intBinary(op, fn);
  }

  void runConstant(arith::ConstantOp op) {
    auto r = makeVal(op.getType());
    Attribute attr = op.getValue();
    if (auto fa = dyn_cast<FloatAttr>(attr)) {
      r->f[0] = roundTo(r->elem, fa.getValueAsDouble());
    } else if (auto ia = dyn_cast<IntegerAttr>(attr)) {
      r->i[0] = wrapInt(r->elem, ia.getValue().getSExtValue());
    } else if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
      if (r->isFloat()) {
        size_t k = 0;
        for (APFloat x : dense.getValues<APFloat>())
          r->f[k++] = roundTo(r->elem, x.convertToDouble());
        if (dense.isSplat())
          std::fill(r->f.begin(), r->f.end(), r->f[0]);
      } else {
        size_t k = 0;
        for (APInt x : dense.getValues<APInt>())
          r->i[k++] = wrapInt(r->elem, r->elem.isInteger(1)
                                           ? x.getZExtValue()
                                           : x.getSExtValue());
        if (dense.isSplat())
          std::fill(r->i.begin(), r->i.end(), r->i[0]);
      }
    } else {
      fail(op, "unsupported constant");
    }
    bind(op.getResult(), r);
  }

  bool cmpF(arith::CmpFPredicate p, double a, double b) {
    using P = arith::CmpFPredicate;
    bool unordered = std::isnan(a) || std::isnan(b);
    switch (p) {
    case P::OEQ: return !unordered && a == b;
    case P::ONE: return !unordered && a != b;
    case P::OLT: return !unordered && a < b;
    case P::OLE: return !unordered && a <= b;
    case P::OGT: return !unordered && a > b;
    case P::OGE: return !unordered && a >= b;
    case P::UNE: return unordered || a != b;
    case P::UEQ: return unordered || a == b;
    case P::ULT: return unordered || a < b;
    case P::ULE: return unordered || a <= b;
    case P::UGT: return unordered || a > b;
    case P::UGE: return unordered || a >= b;
    case P::ORD: return !unordered;
    case P::UNO: return unordered;
    case P::AlwaysTrue: return true;
    case P::AlwaysFalse: return false;
    }
    return false;
  }
  bool cmpI(arith::CmpIPredicate p, int64_t a, int64_t b) {
    using P = arith::CmpIPredicate;
    switch (p) {
    case P::eq: return a == b;
    case P::ne: return a != b;
    case P::slt: return a < b;
    case P::sle: return a <= b;
    case P::sgt: return a > b;
    case P::sge: return a >= b;
    case P::ult: return static_cast<uint64_t>(a) < static_cast<uint64_t>(b);
    case P::ule: return static_cast<uint64_t>(a) <= static_cast<uint64_t>(b);
    case P::ugt: return static_cast<uint64_t>(a) > static_cast<uint64_t>(b);
    case P::uge: return static_cast<uint64_t>(a) >= static_cast<uint64_t>(b);
    }
    return false;
  }

  void runConvert(Operation *op) {
    const Val &a = get(op->getOperand(0));
    auto r = makeVal(op->getResult(0).getType());
    size_t n = a.size();
    for (size_t k = 0; k < n; ++k) {
      if (a.isFloat() && r->isFloat())
        r->f[k] = roundTo(r->elem, a.f[k]);
      else if (!a.isFloat() && r->isFloat())
        r->f[k] = roundTo(r->elem, static_cast<double>(a.i[k]));
      else if (a.isFloat() && !r->isFloat()) {
        double x = a.f[k];
        if (std::isnan(x) || std::fabs(x) > 9.2e18)
          fail(op, "float value " + std::to_string(x) +
                       " does not fit the integer type");
        r->i[k] = wrapInt(r->elem, static_cast<int64_t>(std::trunc(x)));
      } else
        r->i[k] = wrapInt(r->elem, a.i[k]);
    }
    bind(op->getResult(0), r);
  }

  void runBroadcast(Operation *op, const Val &a) {
    auto r = makeVal(op->getResult(0).getType());
    size_t rank = r->shape.size();
    size_t n = numElements(r->shape);
    // Strides of the source with 0 on broadcast dimensions.
    SmallVector<int64_t> srcStride(rank, 0);
    int64_t s = 1;
    for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
      srcStride[d] = a.shape[d] == 1 ? 0 : s;
      s *= a.shape[d];
    }
    SmallVector<int64_t> idx(rank, 0);
    for (size_t k = 0; k < n; ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d)
        off += idx[d] * srcStride[d];
      if (r->isFloat())
        r->f[k] = a.f[off];
      else
        r->i[k] = a.i[off];
      for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
        if (++idx[d] < r->shape[d])
          break;
        idx[d] = 0;
      }
    }
    bind(op->getResult(0), r);
  }

  /// Same elements, new shape (expand_dims, reshape).
  void runReinterpret(Operation *op) {
    auto r = std::make_shared<Val>(get(op->getOperand(0)));
    auto shape = tile::getShapeOrScalar(op->getResult(0).getType());
    r->shape.assign(shape.begin(), shape.end());
    bind(op->getResult(0), r);
  }

  void runLoad(tile::LoadOp op) {
    runMaskedLoad(op, op.getPtr(), op.getMask(), op.getOther(), op.getResult());
  }

  void runMaskedLoad(Operation *op, Value ptr, Value mask, Value other,
                     Value result) {
    const Val &p = get(ptr);
    const Val *m = mask ? &get(mask) : nullptr;
    const Val *o = other ? &get(other) : nullptr;
    auto r = makeVal(result.getType());
    size_t bytes = tile::getElementByteSize(r->elem);
    for (size_t k = 0; k < p.i.size(); ++k) {
      bool on = !m || m->i[k];
      if (r->isFloat()) {
        if (on) {
          checkAccess(op, p.i[k], bytes, "load");
          r->f[k] = readElem(r->elem, p.i[k]);
        } else {
          r->f[k] = o ? o->f[k] : 0.0;
        }
      } else {
        if (on) {
          checkAccess(op, p.i[k], bytes, "load");
          r->i[k] = readInt(r->elem, p.i[k]);
        } else {
          r->i[k] = o ? o->i[k] : 0;
        }
      }
    }
    bind(result, r);
  }

  void runStore(tile::StoreOp op) {
    const Val &p = get(op.getPtr());
    const Val &v = get(op.getValue());
    const Val *m = op.getMask() ? &get(op.getMask()) : nullptr;
    size_t bytes = tile::getElementByteSize(v.elem);
    for (size_t k = 0; k < p.i.size(); ++k) {
      if (m && !m->i[k])
        continue;
      checkAccess(op, p.i[k], bytes, "store");
      if (v.isFloat())
        writeElem(v.elem, p.i[k], v.f[k]);
      else
        writeInt(v.elem, p.i[k], v.i[k]);
    }
  }

  /// The flag of a wait_flag or signal_flag: an aligned i64 inside an
  /// argument buffer, accessed atomically (programs run on several threads).
  std::atomic_ref<int64_t> flagAt(Operation *op, Value ptr) {
    int64_t addr = get(ptr).i[0];
    checkAccess(op, addr, 8, "flag access");
    if (addr % 8)
      fail(op, "the flag at address " + std::to_string(addr) +
                   " is not 8-byte aligned");
    return std::atomic_ref<int64_t>(*reinterpret_cast<int64_t *>(addr));
  }

  /// Programs start in launch order on the worker threads, as on the GPU,
  /// so a flag that a lower-numbered program sets is set eventually; one
  /// that stays below its target for InterpretOptions::flagTimeout is a
  /// deadlock.
  void runWaitFlag(tile::WaitFlagOp op) {
    auto flag = flagAt(op, op.getFlag());
    int64_t target = get(op.getTarget()).i[0];
    // The timeout runs from the last time the flag moved: a long chain of
    // slow programs makes progress, a deadlock does not.
    auto start = std::chrono::steady_clock::now();
    int64_t seen = flag.load(std::memory_order_acquire);
    for (int64_t now = seen; now < target;
         now = flag.load(std::memory_order_acquire)) {
      if (now != seen) {
        seen = now;
        start = std::chrono::steady_clock::now();
      }
      if (stop_)
        fail(op, "another program of the launch failed while this one waited");
      if (std::chrono::steady_clock::now() - start > flagTimeout_)
        fail(op, "the flag stayed at " +
                     std::to_string(flag.load(std::memory_order_acquire)) +
                     ", below its target " + std::to_string(target) +
                     ", for " + std::to_string(flagTimeout_.count()) +
                     " ms: no earlier program of the launch sets it "
                     "(programs start in launch order; wait only on what "
                     "lower-numbered programs signal)");
      std::this_thread::yield();
    }
  }

  void runSignalFlag(tile::SignalFlagOp op) {
    flagAt(op, op.getFlag())
        .store(get(op.getValue()).i[0], std::memory_order_release);
  }

  void runDot(tile::DotOp op) {
    const Val &a = get(op.getA());
    const Val &b = get(op.getB());
    const Val &c = get(op.getAcc());
    int64_t M = a.shape[0], K = a.shape[1], N = b.shape[1];
    // Products of 16-bit inputs are exact in fp32 and the tensor cores
    // accumulate in fp32; accumulating in double is at least as accurate.
    std::vector<double> acc(c.f.begin(), c.f.end());
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) {
        double x = a.f[m * K + k];
        if (x == 0.0)
          continue;
        const double *brow = &b.f[k * N];
        double *crow = &acc[m * N];
        for (int64_t n = 0; n < N; ++n)
          crow[n] += x * brow[n];
      }
    auto r = makeVal(op.getResult().getType());
    for (size_t k = 0; k < acc.size(); ++k)
      r->f[k] = roundTo(r->elem, acc[k]);
    bind(op.getResult(), r);
  }

  /// A tensor seen along `axis`: the elements before it (outer), along it
  /// (len) and after it (inner), row-major.
  static std::array<int64_t, 3> axisExtents(llvm::ArrayRef<int64_t> shape,
                                            int64_t axis) {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d)
      outer *= shape[d];
    for (size_t d = axis + 1; d < shape.size(); ++d)
      inner *= shape[d];
    return {outer, shape[axis], inner};
  }

  void runCumsum(tile::CumsumOp op) {
    const Val &a = get(op.getSrc());
    auto r = makeVal(op.getResult().getType());
    auto [outer, len, inner] = axisExtents(a.shape, op.getAxis());
    bool exclusive = op.getExclusive(), reverse = op.getReverse();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        // In f32 steps, as the GPU accumulates; integers wrap.
        float facc = 0;
        int64_t iacc = 0;
        for (int64_t step = 0; step < len; ++step) {
          int64_t l = reverse ? len - 1 - step : step;
          size_t at = (o * len + l) * inner + in;
          if (a.isFloat()) {
            float x = static_cast<float>(a.f[at]);
            if (!exclusive) facc += x;
            r->f[at] = roundTo(r->elem, facc);
            if (exclusive) facc += x;
          } else {
            int64_t x = a.i[at];
            if (!exclusive) iacc = wrapInt(r->elem, iacc + x);
            r->i[at] = iacc;
            if (exclusive) iacc = wrapInt(r->elem, iacc + x);
          }
        }
      }
    bind(op.getResult(), r);
  }

  void runReduce(tile::ReduceOp op) {
    const Val &a = get(op.getSrc());
    auto r = makeVal(op.getResult().getType());
    auto [outer, len, inner] = axisExtents(a.shape, op.getAxis());
    bool isMax = op.getKind() == "max", isMin = op.getKind() == "min";
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        size_t out = o * inner + in;
        if (a.isFloat()) {
          // A NaN wins min and max, as arith.maximumf/minimumf on the GPU.
          double acc = isMax ? -INFINITY : isMin ? INFINITY : 0.0;
          for (int64_t l = 0; l < len; ++l) {
            double x = a.f[(o * len + l) * inner + in];
            acc = std::isnan(x) || std::isnan(acc) ? NAN
                  : isMax                          ? std::max(acc, x)
                  : isMin                          ? std::min(acc, x)
                                                   : acc + x;
          }
          r->f[out] = roundTo(r->elem, acc);
        } else {
          int64_t acc = isMax ? INT64_MIN : isMin ? INT64_MAX : 0;
          for (int64_t l = 0; l < len; ++l) {
            int64_t x = a.i[(o * len + l) * inner + in];
            acc = isMax ? std::max(acc, x) : isMin ? std::min(acc, x) : acc + x;
          }
          r->i[out] = wrapInt(r->elem, acc);
        }
      }
    bind(op.getResult(), r);
  }

  void runFor(scf::ForOp op) {
    int64_t lo = get(op.getLowerBound()).i[0];
    int64_t hi = get(op.getUpperBound()).i[0];
    int64_t step = get(op.getStep()).i[0];
    if (step <= 0)
      fail(op, "loop step must be positive, got " + std::to_string(step));
    std::vector<ValPtr> carried;
    for (Value init : op.getInitArgs())
      carried.push_back(getPtr(init));
    Block *body = op.getBody();
    for (int64_t iv = lo; iv < hi; iv += step) {
      auto ivVal = makeVal(op.getInductionVar().getType());
      ivVal->i[0] = iv;
      bind(op.getInductionVar(), ivVal);
      for (size_t k = 0; k < carried.size(); ++k)
        bind(op.getRegionIterArgs()[k], carried[k]);
      runBlock(*body);
      carried = std::move(yielded);
      yielded.clear();
    }
    for (size_t k = 0; k < carried.size(); ++k)
      bind(op.getResult(k), carried[k]);
  }

  void runIf(scf::IfOp op) {
    bool cond = get(op.getCondition()).i[0] != 0;
    Region &region = cond ? op.getThenRegion() : op.getElseRegion();
    if (region.empty()) {
      if (op.getNumResults())
        fail(op, "scf.if with results needs an else region");
      return;
    }
    runBlock(region.front());
    for (size_t k = 0; k < op.getNumResults(); ++k)
      bind(op.getResult(k), yielded[k]);
    yielded.clear();
  }

  void runOp(Operation &operation) {
    Operation *op = &operation;
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](arith::ConstantOp o) { runConstant(o); })
        .Case([&](arith::AddFOp) { floatBinary(op, [](double a, double b) { return a + b; }); })
        .Case([&](arith::SubFOp) { floatBinary(op, [](double a, double b) { return a - b; }); })
        .Case([&](arith::MulFOp) { floatBinary(op, [](double a, double b) { return a * b; }); })
        .Case([&](arith::DivFOp) { floatBinary(op, [](double a, double b) { return a / b; }); })
        .Case([&](arith::MaximumFOp) {
          floatBinary(op, [](double a, double b) {
            return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
          });
        })
        .Case([&](arith::MinimumFOp) {
          floatBinary(op, [](double a, double b) {
            return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
          });
        })
        .Case([&](arith::NegFOp) { floatUnary(op, [](double a) { return -a; }); })
        .Case([&](arith::AddIOp) { intBinary(op, [](int64_t a, int64_t b) { return a + b; }); })
        .Case([&](arith::SubIOp) { intBinary(op, [](int64_t a, int64_t b) { return a - b; }); })
        .Case([&](arith::MulIOp) { intBinary(op, [](int64_t a, int64_t b) { return a * b; }); })
        .Case([&](arith::AndIOp) { intBinary(op, [](int64_t a, int64_t b) { return a & b; }); })
        .Case([&](arith::OrIOp) { intBinary(op, [](int64_t a, int64_t b) { return a | b; }); })
        .Case([&](arith::XOrIOp) { intBinary(op, [](int64_t a, int64_t b) { return a ^ b; }); })
        .Case([&](arith::MaxSIOp) { intBinary(op, [](int64_t a, int64_t b) { return std::max(a, b); }); })
        .Case([&](arith::MinSIOp) { intBinary(op, [](int64_t a, int64_t b) { return std::min(a, b); }); })
        .Case([&](arith::DivSIOp) { intDivide(op, [](int64_t a, int64_t b) { return a / b; }); })
        .Case([&](arith::RemSIOp) { intDivide(op, [](int64_t a, int64_t b) { return a % b; }); })
        .Case([&](arith::CeilDivSIOp) {
          intDivide(op, [](int64_t a, int64_t b) {
            int64_t q = a / b;
            return (a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;
          });
        })
        .Case([&](arith::CmpFOp o) {
          const Val &a = get(o.getLhs());
          const Val &b = get(o.getRhs());
          auto r = makeVal(o.getType());
          for (size_t k = 0; k < a.f.size(); ++k)
            r->i[k] = cmpF(o.getPredicate(), a.f[k], b.f[k]);
          bind(o.getResult(), r);
        })
        .Case([&](arith::CmpIOp o) {
          const Val &a = get(o.getLhs());
          const Val &b = get(o.getRhs());
          auto r = makeVal(o.getType());
          for (size_t k = 0; k < a.i.size(); ++k)
            r->i[k] = cmpI(o.getPredicate(), a.i[k], b.i[k]);
          bind(o.getResult(), r);
        })
        .Case([&](arith::SelectOp o) {
          const Val &c = get(o.getCondition());
          const Val &a = get(o.getTrueValue());
          const Val &b = get(o.getFalseValue());
          auto r = makeVal(o.getType());
          for (size_t k = 0; k < r->size(); ++k) {
            bool on = c.i[c.shape.empty() ? 0 : k];
            if (r->isFloat())
              r->f[k] = on ? a.f[k] : b.f[k];
            else
              r->i[k] = on ? a.i[k] : b.i[k];
          }
          bind(o.getResult(), r);
        })
        .Case<arith::ExtSIOp, arith::TruncIOp, arith::ExtFOp, arith::TruncFOp,
              arith::SIToFPOp, arith::FPToSIOp, arith::IndexCastOp,
              tile::ConvertOp>([&](Operation *o) { runConvert(o); })
        .Case([&](math::ExpOp) { floatUnary(op, [](double a) { return std::exp(a); }); })
        .Case([&](math::Exp2Op) { floatUnary(op, [](double a) { return std::exp2(a); }); })
        .Case([&](math::LogOp) { floatUnary(op, [](double a) { return std::log(a); }); })
        .Case([&](math::SqrtOp) { floatUnary(op, [](double a) { return std::sqrt(a); }); })
        .Case([&](math::AbsFOp) { floatUnary(op, [](double a) { return std::fabs(a); }); })
        .Case([&](tile::ProgramIdOp o) {
          auto r = makeVal(o.getType());
          r->i[0] = pid_[o.getAxis()];
          bind(o.getResult(), r);
        })
        .Case([&](tile::NumProgramsOp o) {
          auto r = makeVal(o.getType());
          int64_t n[3] = {grid_.x, grid_.y, grid_.z};
          r->i[0] = n[o.getAxis()];
          bind(o.getResult(), r);
        })
        .Case([&](tile::MakeRangeOp o) {
          auto r = makeVal(o.getType());
          for (size_t k = 0; k < r->i.size(); ++k)
            r->i[k] = o.getStartAttr().getInt() + static_cast<int64_t>(k);
          bind(o.getResult(), r);
        })
        .Case([&](tile::SplatOp o) {
          const Val &a = get(o.getSrc());
          auto r = makeVal(o.getType());
          if (r->isFloat())
            std::fill(r->f.begin(), r->f.end(), a.f[0]);
          else
            std::fill(r->i.begin(), r->i.end(), a.i[0]);
          bind(o.getResult(), r);
        })
        .Case([&](tile::BroadcastOp o) { runBroadcast(op, get(o.getSrc())); })
        .Case<tile::ExpandDimsOp, tile::ReshapeOp>(
            [&](Operation *o) { runReinterpret(o); })
        .Case([&](tile::TransOp o) {
          const Val &a = get(o.getSrc());
          auto r = makeVal(o.getType());
          int64_t R = a.shape[0], C = a.shape[1];
          for (int64_t x = 0; x < R; ++x)
            for (int64_t y = 0; y < C; ++y) {
              if (r->isFloat())
                r->f[y * R + x] = a.f[x * C + y];
              else
                r->i[y * R + x] = a.i[x * C + y];
            }
          bind(o.getResult(), r);
        })
        .Case([&](tile::AddPtrOp o) {
          const Val &p = get(o.getPtr());
          const Val &off = get(o.getOffset());
          auto r = makeVal(o.getType());
          auto pointee =
              cast<tile::PtrType>(tile::getElementTypeOrSelf(o.getType()))
                  .getPointeeType();
          int64_t size = tile::getElementByteSize(pointee);
          for (size_t k = 0; k < r->i.size(); ++k)
            r->i[k] = p.i[k] + off.i[k] * size;
          bind(o.getResult(), r);
        })
        .Case([&](tile::LoadOp o) { runLoad(o); })
        // The lowering's forms (tile-pipeline-loads, layouts) mean what the
        // ops they replace meant: an async_load is a load with zeros under
        // the mask, a wait and a layout change move no value.
        .Case([&](tile::AsyncLoadOp o) {
          runMaskedLoad(o, o.getPtr(), o.getMask(), Value(), o.getResult());
        })
        .Case([&](tile::AsyncWaitOp o) {
          for (auto [src, res] : llvm::zip_equal(o.getSrcs(), o.getResults()))
            bind(res, std::make_shared<Val>(get(src)));
        })
        .Case([&](tile::ConvertLayoutOp o) {
          bind(o.getResult(), std::make_shared<Val>(get(o.getSrc())));
        })
        // Dots complete at once here: the wait passes its operands on.
        .Case([&](tile::DotWaitOp o) {
          for (auto [acc, res] : llvm::zip_equal(o.getAccs(), o.getResults()))
            bind(res, std::make_shared<Val>(get(acc)));
        })
        .Case([&](tile::StoreOp o) { runStore(o); })
        .Case([&](tile::WaitFlagOp o) { runWaitFlag(o); })
        .Case([&](tile::SignalFlagOp o) { runSignalFlag(o); })
        .Case([&](tile::DotOp o) { runDot(o); })
        .Case([&](tile::ReduceOp o) { runReduce(o); })
        .Case([&](tile::CumsumOp o) { runCumsum(o); })
        .Case([&](scf::ForOp o) { runFor(o); })
        .Case([&](scf::IfOp o) { runIf(o); })
        .Case([&](scf::YieldOp o) {
          yielded.clear();
          for (Value v : o.getOperands())
            yielded.push_back(getPtr(v));
        })
        .Case([&](func::ReturnOp) {})
        .Default([&](Operation *o) {
          fail(o, "the interpreter does not support this op");
        });
  }

  const std::vector<Buffer> &buffers_;
  const Buffer *last_ = nullptr;
  Grid grid_;
  const std::atomic<bool> &stop_;
  std::chrono::milliseconds flagTimeout_;
  int64_t pid_[3];
  llvm::DenseMap<Value, ValPtr> env_;
};

} // namespace

bool interpreterRequested() {
  const char *v = std::getenv("TESSEL_INTERPRET");
  return v && std::string(v) != "0" && std::string(v) != "";
}

llvm::Error interpret(const Kernel &kernel, const Grid &grid,
                      llvm::ArrayRef<LaunchArg> args,
                      const InterpretOptions &options) {
  if (llvm::Error err = checkLaunchArgs(kernel, args, grid))
    return err;
  func::FuncOp fn = kernel.func();
  Block &entry = fn.getBody().front();

  std::vector<Buffer> buffers;
  std::vector<ValPtr> argVals;
  for (size_t k = 0; k < args.size(); ++k) {
    const LaunchArg &a = args[k];
    auto v = makeVal(entry.getArgument(k).getType());
    if (a.kind == KernelArg::Kind::Pointer) {
      v->i[0] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(a.pointer));
      uintptr_t begin = reinterpret_cast<uintptr_t>(a.pointer);
      buffers.push_back({begin, begin + a.bytes, kernel.args()[k].name});
    } else if (a.dtype == DType::f32) {
      v->f[0] = roundTo(v->elem, a.floatValue);
    } else {
      v->i[0] = wrapInt(v->elem, a.intValue);
    }
    argVals.push_back(v);
  }

  unsigned threads = options.threads ? options.threads
                                     : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(
      std::min<int64_t>(threads, grid.size()));
  std::atomic<int64_t> next{0};
  std::mutex errorMutex;
  std::string firstError;
  std::atomic<bool> stop{false};

  auto worker = [&] {
    while (!stop) {
      int64_t id = next++;
      if (id >= grid.size())
        return;
      int64_t pid[3] = {id % grid.x, (id / grid.x) % grid.y,
                        id / (grid.x * grid.y)};
      Instance inst(buffers, grid, pid, stop, options.flagTimeout);
      for (size_t k = 0; k < argVals.size(); ++k)
        inst.bind(entry.getArgument(k), argVals[k]);
      try {
        inst.runBlock(entry);
      } catch (const Failure &f) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (firstError.empty())
          firstError = f.message + " (program " + std::to_string(pid[0]) +
                       ", " + std::to_string(pid[1]) + ", " +
                       std::to_string(pid[2]) + " of kernel '" +
                       kernel.name() + "')";
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(worker);
  worker();
  for (auto &t : pool)
    t.join();
  if (!firstError.empty())
    return llvm::createStringError(firstError);
  return llvm::Error::success();
}

} // namespace tessel
