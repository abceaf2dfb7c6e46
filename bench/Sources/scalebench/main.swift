// scalebench: times BatchSummary.ingest on synthetic latents, one thread.
//
// Usage: scalebench [--reps N] [--min-seconds S] [--seed N] [--write-dir DIR] [--case NAME]...
//        scalebench --crossover [--concurrency N]
//
// For each case (float32 and bfloat16; shapes (32,4,64,64) and (8,16,128,128))
// it prints one line of space-separated key=value pairs:
//
//   case=f32_c4 dtype=float32 shape=32x4x64x64 bytes=2097152 reps=101 median_s=0.0017 gbps=1.23 mean=... std=... ...
//
// `gbps` is input bytes / median seconds of one ingest with every statistic
// on (a scalar AffineNormalizer, so the clamp count runs too). The trailing
// fields are a few results, so a caller can check them against another
// implementation. With --write-dir, each case's raw tensor is written there as
// `<case>.bin` (little-endian, C-contiguous) for that comparison.
//
// With --crossover it instead times, for float32 (n,4,32,32) and bfloat16
// (n,4,64,64) tensors of growing n, the serial ingest against the concurrent one (N chunks, default
// 2, however small), one line per size with `speedup=serial/concurrent`:
// where the speedup passes 1 is where splitting starts to pay
// (BatchSummary.concurrentChunkMinElements).

import BenchSupport
import Foundation
import LatentStats

/// Latent-like values in NCHW order: channel c has mean 0.1·c − 0.2 and std
/// 1 + 0.05·c, neighbouring channels are correlated through a shared factor
/// per position, and there is a mild spatial correlation along the rows.
func latents(shape: [Int], seed: UInt64) -> [Float] {
    let n = shape[0], c = shape[1], hw = shape[2...].reduce(1, *)
    var rng = SplitMix64(state: seed)
    var out = [Float](repeating: 0, count: n * c * hw)
    var shared = [Double](repeating: 0, count: hw)
    for s in 0..<n {
        for p in stride(from: 0, to: hw, by: 2) {
            let (a, b) = rng.gaussians()
            shared[p] = a
            if p + 1 < hw { shared[p + 1] = b }
        }
        for ch in 0..<c {
            let mean = 0.1 * Double(ch) - 0.2, std = 1 + 0.05 * Double(ch)
            let base = (s * c + ch) * hw
            var previous = 0.0
            for p in stride(from: 0, to: hw, by: 2) {
                let (a, b) = rng.gaussians()
                for (k, g) in [(0, a), (1, b)] where p + k < hw {
                    let own = 0.8 * g + 0.3 * previous
                    previous = g
                    out[base + p + k] = Float(mean + std * (0.85 * own + 0.45 * shared[p + k]))
                }
            }
        }
    }
    return out
}

/// bfloat16 bits of a Float, rounded to nearest even (as torch does).
func bfloat16Bits(_ x: Float) -> UInt16 {
    let b = x.bitPattern
    if x.isNaN { return UInt16(b >> 16) | 0x40 }
    let rounding = 0x7FFF + ((b >> 16) & 1)
    return UInt16((b &+ rounding) >> 16)
}

struct Case {
    let name: String
    let dtype: DType
    let shape: [Int]
}

struct Options {
    var reps = 0              // 0: as many as fit in minSeconds, at least 11
    var minSeconds = 0.5
    var seed: UInt64 = 20_240_601
    var writeDir: String?
    var only: Set<String> = []   // case names; empty: all
    var crossover = false
    var concurrency = 2

    init(_ args: [String]) {
        var i = 1
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--reps": reps = Int(value()) ?? { fail("--reps takes an integer") }()
            case "--min-seconds": minSeconds = Double(value()) ?? { fail("--min-seconds takes a number") }()
            case "--seed": seed = UInt64(value()) ?? { fail("--seed takes an integer") }()
            case "--write-dir": writeDir = value()
            case "--case": only.insert(value())
            case "--crossover": crossover = true
            case "--concurrency": concurrency = Int(value()) ?? { fail("--concurrency takes an integer") }()
            case "-h", "--help":
                print("usage: scalebench [--reps N] [--min-seconds S] [--seed N] [--write-dir DIR] [--case NAME]...")
                print("       scalebench --crossover [--concurrency N]")
                print("cases: f32_c4 bf16_c4 f32_c16 bf16_c16")
                exit(0)
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("scalebench: " + message + "\n").utf8))
    exit(2)
}

func seconds(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) + Double(a) * 1e-18
}

func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double) -> String { String(format: "%.6g", x) }
func fmtExact(_ x: Double) -> String { String(format: "%.17g", x) }

let options = Options(CommandLine.arguments)

/// Median seconds of `body` over at least 11 runs and `minSeconds`.
func timeMedian(_ minSeconds: Double, _ body: () async -> Void) async -> Double {
    await body(); await body()
    let clock = ContinuousClock()
    var times: [Double] = []
    let started = clock.now
    while times.count < 11 || seconds(clock.now - started) < minSeconds {
        let t0 = clock.now
        await body()
        times.append(seconds(clock.now - t0))
    }
    return median(times)
}

if options.crossover {
    let norm = AffineNormalizer(channels: 4, scalingFactor: 0.5, shiftFactor: 0.1, range: 1.0)
    let sizes = [1, 2, 4, 8, 16, 32, 64].map { ([$0, 4, 32, 32], DType.float32) }
        + [8, 16, 32, 64, 128].map { ([$0, 4, 64, 64], DType.bfloat16) }
    for (shape, dtype) in sizes where shape[0] >= options.concurrency {
        let values = latents(shape: shape, seed: options.seed)
        let bytes = dtype == .float32 ? values.withUnsafeBytes { Array($0) } : values.map(bfloat16Bits).withUnsafeBytes { Array($0) }
        let layout = try! TensorLayout(shape: shape, dtype: dtype)
        let serial = await timeMedian(options.minSeconds) {
            _ = try! bytes.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout, normalizer: norm) }
        }
        let concurrent = await timeMedian(options.minSeconds) {
            _ = try! await BatchSummary.ingestSamples(bytes, layout: layout, normalizer: norm,
                                                      concurrency: options.concurrency, minChunkElements: 1)
        }
        print("crossover dtype=\(dtype.rawValue) elements=\(layout.elementCount) shape=\(shape.map(String.init).joined(separator: "x")) "
              + "serial_s=\(fmt(serial)) concurrent_s=\(fmt(concurrent)) chunks=\(options.concurrency) "
              + "speedup=\(String(format: "%.2f", serial / concurrent))")
    }
    exit(0)
}
let cases = [
    Case(name: "f32_c4", dtype: .float32, shape: [32, 4, 64, 64]),
    Case(name: "bf16_c4", dtype: .bfloat16, shape: [32, 4, 64, 64]),
    Case(name: "f32_c16", dtype: .float32, shape: [8, 16, 128, 128]),
    Case(name: "bf16_c16", dtype: .bfloat16, shape: [8, 16, 128, 128]),
]

for (index, c) in cases.enumerated() where options.only.isEmpty || options.only.contains(c.name) {
    let values = latents(shape: c.shape, seed: options.seed &+ UInt64(index / 2))
    let bytes: [UInt8]
    switch c.dtype {
    case .float32:
        bytes = values.withUnsafeBytes { Array($0) } // little-endian hosts only (x86_64, arm64)
    case .bfloat16:
        let bits = values.map(bfloat16Bits)
        bytes = bits.withUnsafeBytes { Array($0) }
    default:
        fatalError("unsupported dtype")
    }
    if let dir = options.writeDir {
        let url = URL(fileURLWithPath: dir).appendingPathComponent("\(c.name).bin")
        do { try Data(bytes).write(to: url) } catch { fail("cannot write \(url.path): \(error)") }
    }
    let layout: TensorLayout
    do { layout = try TensorLayout(shape: c.shape, dtype: c.dtype) } catch { fail("\(error)") }
    let normalizer = AffineNormalizer(channels: c.shape[1], scalingFactor: 0.5, shiftFactor: 0.1, range: 1.0)

    func once() -> (BatchSummary, ClampCount?) {
        do {
            return try bytes.withUnsafeBytes { try BatchSummary.ingest(bytes: $0, layout: layout, normalizer: normalizer) }
        } catch { fail("\(error)") }
    }

    // Warm up (page faults, BLAS setup, caches), then time.
    var result = once()
    _ = once()
    let clock = ContinuousClock()
    var times: [Double] = []
    let started = clock.now
    while true {
        let t0 = clock.now
        result = once()
        times.append(seconds(clock.now - t0))
        if options.reps > 0 {
            if times.count >= options.reps { break }
        } else if times.count >= 11 && seconds(clock.now - started) >= options.minSeconds {
            break
        }
    }
    let med = median(times)
    let (s, clamp) = result
    let shape = c.shape.map(String.init).joined(separator: "x")
    let fields = [
        "case=\(c.name)", "kernel=\(BatchSummary.ingestKernel)", "dtype=\(c.dtype.rawValue)", "shape=\(shape)", "bytes=\(bytes.count)",
        "reps=\(times.count)", "median_s=\(fmt(med))", "min_s=\(fmt(times.min()!))",
        "gbps=\(String(format: "%.3f", Double(bytes.count) / med / 1e9))",
        "mean=\(fmtExact(s.total.mean))", "var=\(fmtExact(s.total.variance!))",
        "m3=\(fmtExact(s.total.m3 / Double(s.total.count)))",
        "m4=\(fmtExact(s.total.m4 / Double(s.total.count)))",
        "min=\(fmtExact(s.total.min))", "max=\(fmtExact(s.total.max))",
        "cov01=\(fmtExact(s.covariance.covariance![1]))",
        "median=\(fmtExact(s.quantile(0.5)!))",
        "nonfinite=\(s.nonfiniteCount)", "clamped=\(clamp!.outside)",
    ]
    print(fields.joined(separator: " "))
}
