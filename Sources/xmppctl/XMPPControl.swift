// xmppctl: administration of xmppd. Account commands work on the data directory's database, whether the
// server runs or not; session commands talk to the running server through its admin socket.
import ArgumentParser
import CommandLineSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPServerPostgres
import XMPPServerSQLite

@main
struct XMPPControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xmppctl",
        abstract: "Administer an xmppd server.",
        discussion: """
            xmppctl finds the server's data directory in --data-dir, else in the data_dir of the config file given \
            with --config or XMPPD_CONFIG, else ./data. Exit status: 0 success, 1 usage (bad arguments, an invalid \
            username or JID, a config file with an error), 2 `check` found problems, 3 the server is not running, \
            or its database is not there or failed, 4 refused (the account exists, or does not). --verbose adds \
            the underlying error to a failure.
            """,
        subcommands: [AddUser.self, AddUsers.self, AddArchive.self, Passwd.self, DelUser.self, Users.self, Sessions.self, Kick.self, RemoteDomains.self,
                      Stats.self, Rooms.self, MakeRoom.self, DestroyRoom.self, ShowUser.self, Settings.self, RecentLog.self, Migrate.self,
                      Check.self])

    static func main() async {
        await ToolRunner.main(self, present: { error in
            // Whatever else fails is the database's doing (locked by another writer, damaged, full disk).
            ToolFailure("the server's database could not do it: \(String(describing: error).prefix(200))",
                        hint: "run it again; if it keeps failing, `xmppctl check` looks at the data directory (--verbose shows more)",
                        status: ControlStatus.notThere, detail: String(reflecting: error))
        })
    }
}

/// The exit statuses of `xmppctl` (its `--help` and the README).
enum ControlStatus {
    /// `check` found a problem.
    static let problemsFound: Int32 = 2
    /// The server is not running (for the commands that need it), or its database is not where xmppctl looked.
    static let notThere: Int32 = 3
    /// The server or the database said no: the account exists, or does not.
    static let refused: Int32 = 4
}

/// Options every command shares.
struct Common: ParsableArguments {
    @Option(name: .long, help: "The server's data directory (default: the config file's data_dir, else ./data).")
    var dataDir: String?
    @Option(name: .long, help: "The server's domain, for changes made while the server is stopped (default localhost); with a config file that lists virtual hosts (domains = ...), the domain whose accounts are meant.")
    var domain: String?
    @Option(name: .long, help: "The server's config file (or XMPPD_CONFIG), read for its data directory, domain and module options.")
    var config: String?
    @Flag(name: .long, help: "On failure, show the underlying error too.")
    var verbose = false

    /// The config file: --config, else XMPPD_CONFIG.
    var configFile: String? {
        config ?? ProcessInfo.processInfo.environment["XMPPD_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether the server's domain was given (by --domain or a config file), rather than assumed.
    var knowsDomain: Bool { domain != nil || configFile != nil }

    /// The server's settings as xmppd would read them: the config file, then --domain and --data-dir.
    func settings() throws -> ServerConfiguration {
        var settings = ServerConfiguration()
        if let configFile {
            do {
                try ConfigFile.load(configFile, into: &settings)
            } catch {
                throw ToolFailure("\(error)", hint: "`xmppd --list-options` lists every option", status: ToolFailure.usageStatus)
            }
        }
        if let dataDir { settings.dataDirectory = dataDir }
        if let domain {
            // A virtual host's accounts live in a database of their own.
            if let host = settings.virtualHost(domain) {
                settings = host
            } else if !settings.virtualHosts.isEmpty, domain.lowercased() != settings.domain {
                throw ToolFailure.usage("\(domain) is not one of the domains the config serves (\(settings.domains.joined(separator: ", ")))",
                                        hint: "--domain names one of `domains` in the config file")
            } else {
                settings.domain = domain.lowercased()
            }
        }
        settings.kernel.domain = settings.domain
        return settings
    }

    /// How the admin socket names `user`: by username on the first domain, as `user@domain` on a virtual host.
    func accountName(_ user: String) throws -> String {
        let settings = try settings()
        return settings.storageDirectory == nil ? user : "\(user)@\(settings.domain)"
    }

    /// The data directory in use.
    func dataDirectory() throws -> String { try settings().dataDirectory }

    /// A kernel with the standard modules on the database, without listeners, configured as the server (from
    /// the config file and --domain): account changes made through it run the modules' account hooks as the server's would.
    func kernel() async throws -> ServerKernel {
        let settings = try settings()
        var logger = Logger(label: "xmppctl")
        logger.logLevel = .warning   // the modules' start-up notes are for the server's log, not the command's output
        let modules = settings.storageDirectory == nil ? StandardModules.all : StandardModules.virtualHost
        return try ServerKernel(configuration: settings.keepingOptions(of: modules).kernel, storage: await storage(), modules: modules,
                                logger: logger)
    }

    /// The server's storage as its config says: the SQLite database in the data directory, or the domain's schema in
    /// PostgreSQL (`storage = postgresql`).
    func storage() async throws -> ServerStorage {
        let settings = try settings()
        guard settings.storage == "postgresql" else { return try database().storage }
        return try await Self.postgres(settings).storage
    }

    /// The PostgreSQL database of `settings`' domain, connected and migrated.
    static func postgres(_ settings: ServerConfiguration) async throws -> PostgresDatabase {
        var logger = Logger(label: "xmppctl")
        logger.logLevel = .warning
        let database = try PostgresDatabase(settings: settings.postgres, domain: settings.domain, logger: logger)
        do {
            try await database.prepare(timeout: .seconds(10))
        } catch {
            database.shutdown()
            throw ToolFailure("the PostgreSQL database at \(settings.postgres.location) cannot be used",
                              hint: "check postgresql_url in the config and that PostgreSQL runs", status: ControlStatus.notThere,
                              detail: "\(String(reflecting: error))")
        }
        return database
    }

    func database() throws -> SQLiteDatabase {
        let path = "\(try settings().databaseDirectory)/xmppd.sqlite"
        guard FileManager.default.fileExists(atPath: path) else {
            throw ToolFailure("no xmppd database at \(path)",
                              hint: "start xmppd once to create it, or point xmppctl at the server's data with --data-dir DIR or --config FILE",
                              status: ControlStatus.notThere)
        }
        // Never another domain's accounts under this domain's name (xmppd refuses the same).
        if knowsDomain, let owner = DomainMarker.owner(of: path), !owner.isEmpty, owner != (try settings().domain) {
            throw ToolFailure("the database \(path) holds the accounts of \(owner), not of \(try settings().domain)",
                              hint: "give the domain the server serves from this data directory (--domain or --config)", status: ToolFailure.usageStatus)
        }
        return try SQLiteDatabase(path: path)
    }

    /// The running server's answer to `command` (errors included, as `error: ...`), or nil when no server runs here.
    /// A password in a command goes only over the admin socket (mode 0600), never into a log or an error.
    func askIfRunning(_ command: String, secret: String) async throws -> String? {
        guard !secret.contains("\n") else { throw ToolFailure.usage("a password cannot contain a line break") }
        do {
            return try await Self.request(command, socket: "\(try dataDirectory())/xmppd.sock").trimmingCharacters(in: .newlines)
        } catch let failure as ToolFailure where failure.status == ControlStatus.notThere {
            return nil
        }
    }

    /// Sends one command to the running server and returns its answer; an `error: ...` answer is thrown as a refusal.
    func ask(_ command: String) async throws -> String {
        let path = "\(try dataDirectory())/xmppd.sock"
        let answer = try await Self.request(command, socket: path)
        if answer.hasPrefix("error: ") {
            throw ToolFailure(String(answer.dropFirst(7)).trimmingCharacters(in: .whitespacesAndNewlines), status: ControlStatus.refused)
        }
        return answer
    }

    /// The answer of the admin socket at `path`; throws a ``ToolFailure`` with ``ControlStatus/notThere`` when no
    /// server listens there.
    static func request(_ command: String, socket path: String) async throws -> String {
        let collector = LineCollector()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(unixDomainSocketPath: path).get()
        } catch {
            throw ToolFailure("xmppd is not running here (no server answers at \(path))",
                              hint: "start xmppd, or point xmppctl at the running server's data with --data-dir DIR or --config FILE",
                              status: ControlStatus.notThere, detail: "\(error)")
        }
        try await channel.writeAndFlush(channel.allocator.buffer(string: command + "\n"))
        try await channel.closeFuture.get()
        return collector.text.withLock { $0 }
    }
}

/// Collects everything the admin socket answers.
final class LineCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let text = Locked("")

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = String(buffer: unwrapInboundIn(data))
        text.withLock { $0 += chunk }
    }
}

/// Reads a password from standard input (one line), so it never appears in the process list; the prompt shows only
/// when a person types it.
func readPassword(_ given: String?) throws -> String {
    if let given { return given }
    // At a terminal the password is not echoed; piped in, it is read as a line, without a prompt.
    if isatty(STDIN_FILENO) != 0, let typed = getpass("password: ") {
        let password = String(cString: typed)
        guard !password.isEmpty else { throw ToolFailure.usage("no password given", hint: "type it, pipe it in, or pass --password") }
        return password
    }
    guard let line = readLine(), !line.isEmpty else {
        throw ToolFailure.usage("no password given", hint: "type it, pipe it in, or pass --password")
    }
    return line
}

func normalized(_ username: String) throws -> String {
    guard let user = (try? JID(localpart: username, domainpart: "localhost"))?.localpart else {
        throw ToolFailure.usage("\(username) is not a valid username", hint: "a username is the part of a JID before the @, without spaces")
    }
    return user
}

struct AddUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "adduser", abstract: "Create an account.")
    @OptionGroup var common: Common
    @Argument(help: "The username (the part before @).") var username: String
    @Option(help: "The password; read from standard input when omitted.") var password: String?

    func run() async throws {
        let user = try normalized(username)
        let secret = try readPassword(password)
        // A running server creates it itself, through the administration API the web console uses.
        if let answer = try await common.askIfRunning("adduser \(try common.accountName(user)) \(secret)", secret: secret) {
            guard answer.hasPrefix("created") else {
                let taken = answer.contains("exists already")
                throw ToolFailure(taken ? "\(user) already exists" : answer.replacingOccurrences(of: "error: ", with: ""),
                                  hint: "`xmppctl passwd \(user)` sets its password", status: ControlStatus.refused)
            }
        } else {
            guard try await common.kernel().createAccount(user, password: secret) else {
                throw ToolFailure("\(user) already exists", hint: "`xmppctl passwd \(user)` sets its password", status: ControlStatus.refused)
            }
        }
        print("created \(user)")
    }
}

struct AddArchive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addarchive",
        abstract: "Fill an account's message archive with COUNT generated chat messages (archive benchmarks).",
        discussion: "Messages alternate between the account and the contacts given, one second apart, ending now. Example: xmppctl addarchive bench1 1000000 --with bench2 --with bench3")
    @OptionGroup var common: Common
    @Argument(help: "The account.") var user: String
    @Argument(help: "How many messages.") var count: Int
    @Option(help: "Contacts (localparts) the messages are exchanged with; repeatable.") var with: [String] = ["bench2"]

    func run() async throws {
        let kernel = try await common.kernel()
        let user = try normalized(user)
        let domain = kernel.configuration.domain
        let owner = try JID(localpart: user, domainpart: domain, resourcepart: "phone")
        let contacts = try with.map { try JID(localpart: normalized($0), domainpart: domain, resourcepart: "laptop") }
        guard !contacts.isEmpty, count > 0 else { throw ValidationError("give a positive COUNT and at least one --with") }
        let start = Date().addingTimeInterval(-Double(count))
        var written = 0
        while written < count {
            let batch = (written..<min(count, written + 10_000)).map { index -> (archive: String, entry: ArchivedStanza) in
                let contact = contacts[index % contacts.count]
                let outgoing = index.isMultiple(of: 2)
                var message = Message(type: .chat, to: outgoing ? contact : owner, body: "generated message \(index) with some text to read")
                message.from = outgoing ? owner : contact
                let entry = ArchivedStanza(id: StanzaID.make(), timestamp: start.addingTimeInterval(Double(index)), with: contact,
                                           element: message.element)
                return (user, entry)
            }
            try await kernel.storage.archives.append(batch)
            written += batch.count
        }
        print("archived \(written) messages for \(user)")
    }
}

struct AddUsers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addusers",
        abstract: "Create numbered accounts in bulk (load tests): bench{i} with password secret{i}, i from 1 to COUNT.",
        discussion: "Existing accounts are left as they are. Example: xmppctl addusers 20000 --user-format bench{i} --password-format secret{i}")
    @OptionGroup var common: Common
    @Argument(help: "How many accounts.") var count: Int
    @Option(help: "Usernames; {i} is replaced by the number.") var userFormat = "bench{i}"
    @Option(help: "Passwords; {i} is replaced by the number.") var passwordFormat = "secret{i}"

    func run() async throws {
        guard userFormat.contains("{i}") else { throw ValidationError("--user-format must contain {i}") }
        let accounts = try await common.storage().accounts
        let (users, passwords) = (userFormat, passwordFormat)
        // Key derivation dominates; one task per core keeps every core busy.
        let created = try await withThrowingTaskGroup(of: Int.self) { group in
            let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
            for worker in 0..<workers {
                group.addTask {
                    var created = 0
                    for i in stride(from: 1 + worker, through: count, by: workers) {
                        let user = try normalized(users.replacingOccurrences(of: "{i}", with: "\(i)"))
                        guard try await !accounts.accountExists(user) else { continue }
                        let credentials = SCRAMCredentials.allHashes(password: passwords.replacingOccurrences(of: "{i}", with: "\(i)"))
                        if try await accounts.createAccount(user, credentials: credentials) { created += 1 }
                    }
                    return created
                }
            }
            return try await group.reduce(0, +)
        }
        print("created \(created) accounts")
    }
}

struct Passwd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set an account's password.")
    @OptionGroup var common: Common
    @Argument var username: String
    @Option(help: "The new password; read from standard input when omitted.") var password: String?

    func run() async throws {
        let user = try normalized(username)
        let secret = try readPassword(password)
        if let answer = try await common.askIfRunning("passwd \(try common.accountName(user)) \(secret)", secret: secret) {
            guard answer.hasPrefix("changed") else {
                let missing = answer.contains("no account")
                throw ToolFailure(missing ? "no account \(user)" : answer.replacingOccurrences(of: "error: ", with: ""),
                                  hint: "`xmppctl users` lists the accounts", status: ControlStatus.refused)
            }
        } else {
            guard try await common.kernel().changePassword(of: user, to: secret) else {
                throw ToolFailure("no account \(user)", hint: "`xmppctl users` lists the accounts", status: ControlStatus.refused)
            }
        }
        print("password changed for \(user)")
    }
}

struct DelUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deluser", abstract: "Delete an account and all its data.")
    @OptionGroup var common: Common
    @Argument var username: String

    func run() async throws {
        let user = try normalized(username)
        // A running server deletes it itself: its sessions end and its contacts are told at once.
        let socket = "\(try common.dataDirectory())/xmppd.sock"
        var answer: String?
        do {
            answer = try await Common.request("deluser \(try common.accountName(user))", socket: socket)
        } catch let failure as ToolFailure where failure.status == ControlStatus.notThere {
            answer = nil   // no server: deleted here, below
        }
        if let answer {
            guard answer.hasPrefix("deleted") else {
                throw ToolFailure(answer.replacingOccurrences(of: "error: ", with: "").trimmingCharacters(in: .newlines),
                                  status: ControlStatus.refused)
            }
        } else {
            // Contacts on this server and chat rooms are found by the domain: a wrong guess would leave their
            // subscriptions and affiliations to whoever registers the name next.
            guard common.knowsDomain else {
                throw ToolFailure.usage("xmppd is not running, so the account is deleted here, and that needs the server's domain",
                                        hint: "pass --domain DOMAIN or --config FILE")
            }
            guard try await common.kernel().deleteAccount(user) else {
                throw ToolFailure("no account \(user)", hint: "`xmppctl users` lists the accounts", status: ControlStatus.refused)
            }
        }
        print("deleted \(user)")
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "users", abstract: "List the accounts.")
    @OptionGroup var common: Common

    func run() async throws {
        let users = try await common.storage().accounts.usernames()
        for user in users { print(user) }
        if users.isEmpty { Feedback.say("no accounts") }
    }
}
