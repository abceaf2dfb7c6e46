import Foundation
import Testing
@testable import ScalectlCore

/// man/scalectl.1 must document every subcommand and every option that
/// ArgumentParser knows about. The list comes from the built binary's
/// `--experimental-dump-help` (the command configuration as JSON), so a new
/// option without documentation fails here.
@Suite("man page")
struct ManPageTests {
    struct Command {
        var name: String
        var positionals: [String]
        var options: [String]  // as written in mdoc after Fl: "-socket", "y"
    }

    static func commands() throws -> [Command] {
        let binary = try #require(Binaries.scalectl, "scalectl is not built (looked in \(Binaries.productsDirectory) and $SCALECTL_BIN)")
        let run = try Proc.run(binary, ["--experimental-dump-help"])
        #expect(run.status == 0)
        let tool = try JSONValue(parsing: run.stdout)
        let subcommands = try #require(tool["command"]?["subcommands"]?.array)
        return subcommands.map { c in
            var positionals: [String] = []
            var options: [String] = []
            for a in c["arguments"]?.array ?? [] where a["shouldDisplay"]?.bool != false {
                if a["kind"]?.string == "positional" {
                    positionals.append(a["valueName"]?.string ?? "?")
                    continue
                }
                for n in a["names"]?.array ?? [] {
                    let name = n["name"]?.string ?? "?"
                    options.append(n["kind"]?.string == "short" ? name : "-" + name)
                }
            }
            return Command(name: c["commandName"]?.string ?? "?", positionals: positionals, options: Array(Set(options)).sorted())
        }
    }

    static let page: [String] = {
        let text = (try? String(contentsOfFile: packageRoot + "/man/scalectl.1", encoding: .utf8)) ?? ""
        return text.components(separatedBy: "\n")
    }()

    /// The lines from `start` (inclusive) to the first line after it that `end` accepts.
    static func section(from start: (String) -> Bool, to end: (String) -> Bool) -> [String] {
        guard let first = page.firstIndex(where: start) else { return [] }
        let rest = page[(first + 1)...]
        let last = rest.firstIndex(where: end) ?? page.endIndex
        return Array(page[first..<last])
    }

    /// Whether `lines` contain the mdoc macro `macro` followed by `argument` as a word.
    static func mentions(_ lines: [String], _ macro: String, _ argument: String) -> Bool {
        lines.contains { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            return zip(words, words.dropFirst()).contains { a, b in
                (a == macro || a == "." + macro) && b == argument
            }
        }
    }

    static func block(of command: String) -> [String] {
        section(from: { $0.hasPrefix(".It Cm \(command) ") || $0 == ".It Cm \(command)" },
                to: { $0.hasPrefix(".It Cm ") || $0.hasPrefix(".Sh ") })
    }

    static let common = section(from: { $0 == ".Ss Common options" }, to: { $0.hasPrefix(".Ss ") || $0.hasPrefix(".Sh ") })

    @Test func pageExists() {
        #expect(Self.page.count > 100, "man/scalectl.1 not found under \(packageRoot)")
    }

    @Test func everySubcommandAndOptionIsDocumented() throws {
        let commands = try Self.commands()
        #expect(commands.count >= 10)
        let synopsis = Self.section(from: { $0 == ".Sh SYNOPSIS" }, to: { $0.hasPrefix(".Sh ") })
        for command in commands {
            #expect(Self.mentions(synopsis, "Cm", command.name), "SYNOPSIS lacks \(command.name)")
            let block = Self.block(of: command.name)
            #expect(!block.isEmpty, "no `.It Cm \(command.name)` entry in man/scalectl.1")
            for positional in command.positionals {
                #expect(Self.mentions(block, "Ar", positional), "\(command.name): argument \(positional) is not documented")
            }
            for option in command.options {
                #expect(Self.mentions(block, "Fl", option) || Self.mentions(Self.common, "Fl", option),
                        "\(command.name): option -\(option) is not documented in its entry or under Common options")
            }
        }
    }

    @Test func theCheckNoticesAMissingOption() {
        // The detector itself: an option that is not in the page is not found.
        #expect(!Self.mentions(Self.block(of: "push"), "Fl", "-no-such-option"))
        #expect(Self.mentions(Self.block(of: "push"), "Fl", "-single-sample"))
        #expect(!Self.mentions(Self.block(of: "status"), "Fl", "-single-sample"))
    }

    @Test func exitStatusesAreDocumented() {
        let section = Self.section(from: { $0 == ".Sh EXIT STATUS" }, to: { $0.hasPrefix(".Sh ") })
        for status in ExitStatus.allCases {
            #expect(section.contains(".It \(status.rawValue)"), "exit status \(status.rawValue) is not in EXIT STATUS")
        }
    }

    /// `mandoc -T lint` finds nothing, apart from cross-references to pages
    /// that are not installed on this machine (scaled(8), scaled-protocol(7)).
    @Test func mandocLintIsClean() throws {
        let run = try Proc.run("/usr/bin/env", ["mandoc", "-T", "lint", packageRoot + "/man/scalectl.1"])
        #expect(run.status != 127, "mandoc is not installed (scripts/setup installs it)")
        let messages = (run.stdout + run.stderr).split(separator: "\n")
            .filter { !$0.contains("referenced manual not found") && !$0.contains("outdated mandoc.db") }
        #expect(messages.isEmpty, "\(messages.joined(separator: "\n"))")
    }
}
