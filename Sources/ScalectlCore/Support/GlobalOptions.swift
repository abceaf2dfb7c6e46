/// Lets `--socket`, `--json` and `--timeout` come before the subcommand, as
/// docker, kubectl and systemctl users type them (`scalectl --socket S status`).
///
/// ArgumentParser takes a subcommand's options only after its name, so the
/// ones given first are moved to just after it; where both are given, the
/// later one (after the subcommand) wins, as ArgumentParser does for a
/// repeated option.
public enum GlobalOptions {
    static let withValue: Set<String> = ["--socket", "--timeout"]
    static let flags: Set<String> = ["--json"]

    /// `arguments` without the program name, reordered.
    public static func reorder(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if flags.contains(a) {
                leading.append(a); i += 1
            } else if withValue.contains(name) && a.contains("=") {
                leading.append(a); i += 1
            } else if withValue.contains(a), i + 1 < arguments.count {
                leading += [a, arguments[i + 1]]; i += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty, i < arguments.count, !arguments[i].hasPrefix("-") else { return arguments }
        // The subcommand, then the moved options, then the rest.
        return [arguments[i]] + leading + arguments[(i + 1)...]
    }
}
