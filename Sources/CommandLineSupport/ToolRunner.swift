import ArgumentParser
import Foundation

/// Runs a tool's command line: parses the arguments, runs the chosen subcommand, and exits with the documented
/// status. A failure while running is printed on standard error as
///
///     xmpp send: cannot connect: nothing accepts connections at 127.0.0.1:5222
///     hint: is xmppd running? Start it with `swift run xmppd`, or give --server HOST:PORT
///
/// and `--verbose` (an option every tool declares) adds the underlying error (`detail:`). Arguments the parser
/// rejects are reported in its own `Error:`/`Usage:` form, naming the subcommand, with status 1. A command that
/// needs a subcommand and got none prints its help (status 0), as `--help` does.
public enum ToolRunner {
    /// Runs `Root` on the process's arguments and exits. `present` turns the tool's own errors into a
    /// ``ToolFailure``; what it returns nil for is reported with its description and exit status 1.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, present: @Sendable (any Error) -> ToolFailure?) async -> Never {
        let command: any ParsableCommand
        do {
            command = try root.parseAsRoot()
        } catch {
            // --help and --version end here too, with status 0 and their text on standard output.
            if root.exitCode(for: error) == .success { root.exit(withError: error) }
            // The parser's message names the subcommand and shows its usage.
            printError(root.fullMessage(for: error))
            exit(ToolFailure.usageStatus)
        }
        let name = commandPath(of: type(of: command), in: root)?.joined(separator: " ") ?? root._commandName
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
            exit(0)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch let error as ValidationError {
            report(.usage(error.message, hint: "see '\(name) --help'"), as: name, usage: root.usageString(for: type(of: command)))
        } catch let failure as ToolFailure {
            report(failure, as: name)
        } catch where root.exitCode(for: error) == .success {
            // A command with subcommands and nothing to run by itself asks for its help this way.
            root.exit(withError: error)
        } catch {
            report(present(error) ?? ToolFailure("\(error)", status: 1), as: name)
        }
    }

    /// Whether the command line asks for the underlying errors.
    public static var isVerbose: Bool { CommandLine.arguments.contains("--verbose") }

    /// Prints `failure` on standard error (after `usage`, for a usage error) and exits with its status.
    public static func report(_ failure: ToolFailure, as name: String, usage: String? = nil) -> Never {
        var lines = ["\(name): \(failure.message)"]
        if let usage { lines.append("usage: \(usage)") }
        if let hint = failure.hint { lines.append("hint: \(hint)") }
        if isVerbose, let detail = failure.detail { lines.append("detail: \(detail)") }
        printError(lines.joined(separator: "\n"))
        exit(failure.status)
    }

    /// The words that name `command` from the root (`["xmpp", "muc", "join"]`), or nil when it is not in the tree.
    static func commandPath(of command: any ParsableCommand.Type, in root: any ParsableCommand.Type) -> [String]? {
        if command == root { return [root._commandName] }
        for child in root.configuration.subcommands {
            if let path = commandPath(of: command, in: child) { return [root._commandName] + path }
        }
        return nil
    }

    private static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// Progress lines for a person ("connected as …", "joined …"): on standard output at a terminal, on standard error
/// when standard output is piped, so scripts reading the output see only the data.
public enum Feedback {
    /// Prints one progress line.
    public static func say(_ line: String) {
        if isatty(STDOUT_FILENO) != 0 {
            print(line)
        } else {
            warn(line)
        }
    }

    /// Prints a warning line on standard error.
    public static func warn(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
