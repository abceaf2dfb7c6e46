import Foundation

/// What the latents look like at batch b.
enum Scenario: String, Sendable {
    case stationary, stdStep = "std_step", meanStep = "mean_step", stdDrift = "std_drift"

    /// Multiplier of every value's deviation from its channel mean.
    func stdFactor(batch: Int, change: Int) -> Float {
        guard batch >= change else { return 1 }
        switch self {
        case .stdStep: return 1.1
        case .stdDrift: return 1 + 0.0005 * Float(batch - change + 1)
        default: return 1
        }
    }
    /// Shift of each channel's mean, in units of that channel's std.
    func meanShift(batch: Int, change: Int) -> Float {
        self == .meanStep && batch >= change ? 0.1 : 0
    }
}

/// Channel c of C has mean 0.05·(c − (C−1)/2) and std 1 + 0.04·(c − (C−1)/2);
/// each (sample, channel) also gets its own std multiplier 1 + 0.02·g and mean
/// offset 0.02·σ_c·g′ (g, g′ standard normal): images differ a little.
let perSampleStdJitter: Float = 0.02, perSampleMeanJitter: Float = 0.02

func fill(_ out: UnsafeMutablePointer<Float>, shape: [Int], scenario: Scenario, batch: Int, change: Int,
          rng: inout Normals) {
    let n = shape[0], c = shape[1], inner = shape[2...].reduce(1, *)
    let factor = scenario.stdFactor(batch: batch, change: change)
    let shift = scenario.meanShift(batch: batch, change: change)
    let mid = Float(c - 1) / 2
    for s in 0..<n {
        for ch in 0..<c {
            let (g1, g2) = rng.pair()
            let sigma = 1 + 0.04 * (Float(ch) - mid)
            let mean = 0.05 * (Float(ch) - mid) + sigma * (shift + perSampleMeanJitter * g2)
            let std = sigma * factor * (1 + perSampleStdJitter * g1)
            let p = out + (s * c + ch) * inner
            var i = 0
            while i + 1 < inner {
                let (a, b) = rng.pair()
                p[i] = mean + std * a
                p[i + 1] = mean + std * b
                i += 2
            }
            if i < inner { p[i] = mean + std * rng.pair().0 }
        }
    }
}
