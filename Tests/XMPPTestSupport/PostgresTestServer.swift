import Foundation
import XMPPCore

/// A PostgreSQL server from Debian (`postgresql`) for the tests: one private cluster per test process, made with
/// `initdb` in a temporary directory and started on a free loopback port on first use, stopped by PID when the process
/// exits (or by ``stop()``). Tests keep apart by schema (each storage under test gets a fresh one) or by database.
/// As root (CI), the cluster runs as the `postgres` user, since PostgreSQL refuses to run as root.
public final class PostgresTestServer: Sendable {
    /// The port on 127.0.0.1.
    public let port: Int
    /// The cluster's directory.
    public let directory: String
    /// The superuser tests connect as (trust authentication on loopback).
    public static let user = "xmppd"
    public static let database = "xmppd"
    private let pid: Locked<Int32>

    private static let started = Locked<Task<PostgresTestServer, any Error>?>(nil)
    /// The clusters' postmasters, for the stop at exit.
    nonisolated(unsafe) private static var runningPIDs: [Int32] = []
    private static let exitHook = Locked(false)

    private init(port: Int, directory: String, pid: Int32) {
        self.port = port
        self.directory = directory
        self.pid = Locked(pid)
    }

    /// `postgres://xmppd@127.0.0.1:PORT/xmppd`.
    public var url: String { "postgres://\(Self.user)@127.0.0.1:\(port)/\(Self.database)" }

    /// The process's cluster, started on first use.
    /// - Throws: ``TestSetupError`` when PostgreSQL is not installed (`.ci/run` installs it) or does not come up.
    public static func shared() async throws -> PostgresTestServer {
        let task = started.withLock { task in
            if let task { return task }
            let made = Task { try await start() }
            task = made
            return made
        }
        return try await task.value
    }

    /// The directory of Debian's PostgreSQL programs (the newest version installed).
    static func binaries() throws -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap(Int.init).max(), FileManager.default.fileExists(atPath: "/usr/lib/postgresql/\(newest)/bin/initdb") else {
            throw TestSetupError("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
        }
        return "/usr/lib/postgresql/\(newest)/bin"
    }

    /// A cluster of the caller's own (to stop and start again: the database going away under a server), stopped by
    /// ``stop()`` or at exit.
    public static func startPrivate() async throws -> PostgresTestServer {
        try await start()
    }

    private static func start() async throws -> PostgresTestServer {
        let bin = try binaries()
        let directory = NSTemporaryDirectory() + "xmppd-postgres-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        // PostgreSQL runs as `postgres` when we are root: the directory must be its own.
        func command(_ arguments: [String]) -> [String] { asRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments }
        if asRoot { _ = try await runProcessUngated(["chown", "postgres", directory], timeout: 30) }
        let data = "\(directory)/data"
        let (status, output) = try await runProcessUngated(command(["\(bin)/initdb", "-D", data, "-U", user, "-A", "trust", "-E", "UTF8",
                                                                    "--no-sync"]), timeout: 120)
        guard status == 0 else { throw TestSetupError("initdb failed: \(output)") }
        let port = try LoopbackPort.free()
        // The server runs as a child of ours (through runuser as root), its output to a file: no pipe of ours to hold
        // open, and nothing to wait for but its port.
        try launch(command(["\(bin)/postgres", "-D", data, "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1",
                            "-c", "fsync=off", "-c", "max_connections=200"]), output: "\(directory)/postgres.log")
        let deadline = Date().addingTimeInterval(60)
        while !(LoopbackPort.isListening(port: port) && FileManager.default.fileExists(atPath: "\(data)/postmaster.pid")) {
            guard Date() < deadline else {
                let log = (try? String(contentsOfFile: "\(directory)/postgres.log", encoding: .utf8)) ?? ""
                throw TestSetupError("PostgreSQL did not start: \(log)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await waitUntilReady(port: port, bin: bin)
        let pidText = try String(contentsOfFile: "\(data)/postmaster.pid", encoding: .utf8)
        guard let pid = pidText.split(separator: "\n").first.flatMap({ Int32($0) }) else { throw TestSetupError("no postmaster.pid") }
        remember(pid)
        let (created, createLog) = try await runProcessUngated(["\(bin)/createdb", "-h", "127.0.0.1", "-p", String(port), "-U", user, database],
                                                        timeout: 60)
        guard created == 0 else { throw TestSetupError("createdb failed: \(createLog)") }
        return PostgresTestServer(port: port, directory: directory, pid: pid)
    }

    /// Waits until the server accepts connections (after crash recovery, when it was stopped abruptly).
    private static func waitUntilReady(port: Int, bin: String) async throws {
        let deadline = Date().addingTimeInterval(60)
        while try await runProcessUngated(["\(bin)/pg_isready", "-h", "127.0.0.1", "-p", String(port), "-U", user], timeout: 10).status != 0 {
            guard Date() < deadline else { throw TestSetupError("PostgreSQL does not accept connections") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Starts a command with its output to a file (no pipe a daemon could inherit), without waiting for it.
    private static func launch(_ arguments: [String], output: String) throws {
        FileManager.default.createFile(atPath: output, contents: nil)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = file
        process.standardError = file
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try file.close()
    }

    private static func remember(_ pid: Int32) {
        exitHook.withLock { installed in
            runningPIDs.append(pid)
            guard !installed else { return }
            installed = true
            atexit { for pid in PostgresTestServer.runningPIDs { kill(pid, SIGQUIT) } }
        }
    }

    /// Stops the cluster now (immediate shutdown, by PID) and waits until its port is closed.
    public func stop() async throws {
        kill(pid.withLock { $0 }, SIGQUIT)
        let deadline = Date().addingTimeInterval(30)
        while LoopbackPort.isListening(port: port) || FileManager.default.fileExists(atPath: "\(directory)/data/postmaster.pid") {
            guard Date() < deadline else { throw TestSetupError("PostgreSQL did not stop") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Starts a stopped cluster again on its port and data.
    public func restart() async throws {
        let bin = try Self.binaries()
        let data = "\(directory)/data"
        let prefix = getuid() == 0 ? ["runuser", "-u", "postgres", "--"] : []
        try Self.launch(prefix + ["\(bin)/postgres", "-D", data, "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1",
                                  "-c", "fsync=off", "-c", "max_connections=200"], output: "\(directory)/postgres-restart.log")
        let deadline = Date().addingTimeInterval(60)
        while !(LoopbackPort.isListening(port: port) && FileManager.default.fileExists(atPath: "\(data)/postmaster.pid")) {
            guard Date() < deadline else { throw TestSetupError("PostgreSQL did not start again") }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Self.waitUntilReady(port: port, bin: bin)
        let pidText = try String(contentsOfFile: "\(data)/postmaster.pid", encoding: .utf8)
        guard let newPID = pidText.split(separator: "\n").first.flatMap({ Int32($0) }) else { throw TestSetupError("no postmaster.pid") }
        pid.withLock { $0 = newPID }
        Self.remember(newPID)
    }

    /// A new, empty database in the cluster; its URL.
    public func newDatabase() async throws -> String {
        let name = "test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        _ = try await psql("CREATE DATABASE \(name)")
        return "postgres://\(Self.user)@127.0.0.1:\(port)/\(name)"
    }

    /// Runs SQL with `psql` as the superuser.
    public func psql(_ sql: String) async throws -> String {
        let (status, output) = try await runProcessUngated(["\(try Self.binaries())/psql", "-h", "127.0.0.1", "-p", String(port), "-U", Self.user,
                                                     "-d", Self.database, "-v", "ON_ERROR_STOP=1", "-Atc", sql], timeout: 60)
        guard status == 0 else { throw TestSetupError("psql failed: \(output)") }
        return output
    }
}
