import Foundation
import XMPPCore
import XMPPServerKernel
import XMPPServerMUC

/// The administration's chat rooms, across every domain's chat service.
extension ServerAdministration {
    /// The chat services of every domain.
    func roomServices(in scope: Scope = .server) -> [(service: MUCService, kernel: ServerKernel)] {
        kernels(in: scope).flatMap { kernel in kernel.hostedServices.compactMap { $0 as? MUCService }.map { ($0, kernel) } }
    }

    /// The domains of the chat services, the first domain's first.
    public func roomServiceDomains(scope: Scope = .server) -> [String] { roomServices(in: scope).map(\.service.domain) }

    /// Every room of every chat service.
    public func rooms(scope: Scope = .server) async -> [RoomSummary] {
        var all: [RoomSummary] = []
        for (service, kernel) in roomServices(in: scope) { all += await service.roomSummaries(kernel: kernel) }
        return all
    }

    /// The service and local name of a room JID.
    private func room(_ text: String, scope: Scope) throws(Administration.Failure) -> (service: MUCService, kernel: ServerKernel, name: String) {
        guard let jid = JID(validating: text.trimmingCharacters(in: .whitespaces)), let name = jid.localpart, jid.resourcepart == nil else {
            throw .badRequest("\(text) is not a room JID (room@service)")
        }
        guard let (service, kernel) = roomServices(in: scope).first(where: { $0.service.domain == jid.domainpart }) else {
            throw .notFound("\(jid.domainpart) is not a chat service of this server")
        }
        return (service, kernel, name)
    }

    /// A room in detail.
    public func roomDetails(_ jid: String, scope: Scope = .server) async throws(Administration.Failure) -> RoomDetails {
        let (service, kernel, name) = try room(jid, scope: scope)
        guard let details = await service.roomDetails(named: name, kernel: kernel) else { throw .notFound("no room \(jid)") }
        return details
    }

    /// Creates a persistent room owned by `owner` (an account; the first administrator when nil).
    public func createRoom(_ jid: String, title: String = "", owner: String? = nil, scope: Scope = .server) async throws(Administration.Failure) -> RoomSummary {
        let (service, kernel, name) = try room(jid, scope: scope)
        let ownerJID: JID
        if let owner, !owner.isEmpty { ownerJID = try account(owner, scope: scope).jid } else {
            guard let first = kernel.configuration.admins.sorted(by: { $0.description < $1.description }).first else {
                throw .badRequest("name an owner (the server has no admins)")
            }
            ownerJID = first
        }
        do {
            return try await service.createRoom(named: name, title: title, owner: ownerJID, kernel: kernel)
        } catch let error as RoomAdministrationError {
            if case .exists = error { throw .conflict(error.description) }
            throw .badRequest(error.description)
        } catch {
            throw .failed("the room could not be stored: \(error)")
        }
    }

    /// Destroys a room; its occupants are told `reason`.
    public func destroyRoom(_ jid: String, reason: String? = nil, scope: Scope = .server) async throws(Administration.Failure) {
        let (service, kernel, name) = try room(jid, scope: scope)
        do {
            try await service.destroyRoom(named: name, reason: reason, kernel: kernel)
        } catch let error as RoomAdministrationError {
            if case .notFound = error { throw .notFound(error.description) }
            throw .badRequest(error.description)
        } catch {
            throw .failed("the room could not be removed from storage: \(error)")
        }
    }
}
