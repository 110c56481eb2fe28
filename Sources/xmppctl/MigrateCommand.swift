// xmppctl migrate: copies a domain's data from its SQLite database into PostgreSQL.
import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPServerPostgres
import XMPPServerSQLite

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a domain's data from its SQLite database into PostgreSQL (postgresql_url in the config), with the server stopped.",
        discussion: """
            Accounts keep working (their SCRAM keys are copied; no password is needed), and rosters, offline messages, vCards \
            and every per-user document, chat rooms and other service records, and message archives (ids and times kept) \
            move over. The PostgreSQL schema of the domain must hold no accounts yet. Then set storage = postgresql. \
            Example: xmppctl migrate --from sqlite --to postgresql --config /etc/xmppd/xmppd.conf
            """)
    @OptionGroup var common: Common
    @Option(help: "Where the data is: sqlite.") var from = "sqlite"
    @Option(help: "Where it goes: postgresql.") var to = "postgresql"

    func run() async throws {
        guard from == "sqlite", to == "postgresql" else { throw ValidationError("only --from sqlite --to postgresql is supported") }
        guard common.knowsDomain else { throw ToolFailure.usage("migrate needs the server's config", hint: "pass --config FILE (with postgresql_url)") }
        do {
            _ = try await Common.request("stats", socket: "\(try common.dataDirectory())/xmppd.sock")
            throw ToolFailure("xmppd is running on this data", hint: "stop it first: what it writes meanwhile would not be copied", status: ControlStatus.refused)
        } catch let failure as ToolFailure where failure.status == ControlStatus.notThere {
            // Not running: go on.
        }
        let settings = try common.settings()
        let source = try common.database()
        let sourceStorage = source.storage
        let target = try await Common.postgres(settings)
        defer { target.shutdown() }
        let destination = target.storage
        guard try await destination.accounts.usernames().isEmpty else {
            throw ToolFailure("the PostgreSQL schema of \(settings.domain) holds accounts already", hint: "migrate into an empty database",
                              status: ControlStatus.refused)
        }
        var figures: [String: Int] = [:]
        for user in try await sourceStorage.accounts.usernames() {
            var credentials: [SCRAMCredentials] = []
            for hash in SCRAMHash.allCases {
                if let credential = try await sourceStorage.accounts.credentials(of: user, hash: hash) { credentials.append(credential) }
            }
            if try await destination.accounts.createAccount(user, credentials: credentials) { figures["accounts", default: 0] += 1 }
        }
        let inventory = try await source.inventory()
        for user in inventory.rosterOwners {
            let roster = try await sourceStorage.rosters.roster(of: user)
            for item in roster.items {
                _ = try await destination.rosters.setItem(item, of: user)
                figures["roster items", default: 0] += 1
            }
            // One past the version clients may have cached: their next roster request gets the whole roster.
            try await target.setRosterVersion(roster.version + 1, of: user)
        }
        for user in inventory.offlineOwners {
            for message in try await sourceStorage.offline.pending(for: user) {
                _ = try await destination.offline.store(message.element, for: user, limit: .max, byteLimit: .max)
                figures["offline messages", default: 0] += 1
            }
        }
        for (user, key) in inventory.userData {
            try await destination.userData.setValue(try await sourceStorage.userData.value(key, of: user), for: key, of: user)
            figures["user documents", default: 0] += 1
        }
        for service in inventory.services {
            for record in try await sourceStorage.serviceRecords.records(of: service) {
                try await destination.serviceRecords.save(record.data, id: record.id, of: service)
                figures["service records", default: 0] += 1
            }
        }
        for archive in inventory.archives {
            var after: String?
            while true {
                let page = try await sourceStorage.archives.query(ArchiveQuery(after: after, max: 1000), in: archive)
                try await destination.archives.append(page.items.map { (archive, $0) })
                figures["archived messages", default: 0] += page.items.count
                guard !page.isComplete, let last = page.items.last?.id else { break }
                after = last
            }
        }
        print("copied to \(settings.postgres.location) (schema \(target.schema)):")
        for (name, count) in figures.sorted(by: { $0.key < $1.key }) { print("  \(name) \(count)") }
        Feedback.say("now set storage = postgresql in the config and start xmppd")
    }
}
