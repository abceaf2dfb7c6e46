import CLAPACKE

/// The ZCA whitening matrix of a channel covariance.
public enum Whitening {
    /// Σ^(-1/2) = V·diag(λ^(-1/2))·Vᵀ from the population covariance, via LAPACKE `dsyevd`.
    ///
    /// Throws when Σ is singular (smallest eigenvalue ≤ 1e-12 of the largest).
    public static func inverseSquareRoot(_ cov: ChannelCovariance) throws(NormalizationError) -> [[Double]] {
        guard var a = cov.covariance else { throw .noData }
        // One thread everywhere, so that every process (scaled, scalectl merge)
        // gets the same bits from the same covariance.
        BLASSetup.once()
        let n = cov.channels
        var w = [Double](repeating: 0, count: n)
        let info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")),
                                  Int32(n), &a, Int32(n), &w)
        guard info == 0 else { throw .lapackFailed(info) }
        // Eigenvalues ascending; columns of `a` are the eigenvectors.
        let largest = w[n - 1]
        guard largest > 0, w[0] > 1e-12 * largest else { throw .singularCovariance(smallestEigenvalue: w[0]) }
        let inv = w.map { 1 / $0.squareRoot() }
        var out = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<n { s += a[i * n + k] * inv[k] * a[j * n + k] }
                out[i][j] = s
            }
        }
        return out
    }
}
