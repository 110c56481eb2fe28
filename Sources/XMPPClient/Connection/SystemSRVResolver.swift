#if canImport(Network)
import Dispatch
import NIOCore
import dnssd

/// SRV look-ups through the system's resolver on Apple platforms (dnssd's `DNSServiceQueryRecord`): it follows the
/// device's DNS configuration (per-interface servers, VPNs, profiles), which `/etc/resolv.conf` does not describe there.
enum SystemSRVResolver {
    /// The SRV records of `name`; none when there are none, on an error, or when no answer came within `timeout`.
    static func records(of name: String, timeout: TimeAmount) async -> [DNSMessage.SRVRecord] {
        await withCheckedContinuation { continuation in
            SRVQuery(continuation: continuation).start(name: name, timeout: timeout)
        }
    }
}

/// One query under way. Everything runs on its serial queue; the query keeps itself alive (a retained reference in
/// dnssd's context pointer) until it has answered.
private final class SRVQuery: @unchecked Sendable {
    private let queue = DispatchQueue(label: "SwiftXMPP.SRVQuery")
    private var reference: DNSServiceRef?
    private var records: [DNSMessage.SRVRecord] = []
    private var continuation: CheckedContinuation<[DNSMessage.SRVRecord], Never>?

    init(continuation: CheckedContinuation<[DNSMessage.SRVRecord], Never>) {
        self.continuation = continuation
    }

    func start(name: String, timeout: TimeAmount) {
        queue.async { [self] in
            let context = Unmanaged.passRetained(self).toOpaque()
            let status = DNSServiceQueryRecord(&reference, 0, 0, name, UInt16(kDNSServiceType_SRV), UInt16(kDNSServiceClass_IN),
                                               { _, flags, _, error, _, _, _, length, data, _, context in
                guard let context else { return }
                Unmanaged<SRVQuery>.fromOpaque(context).takeUnretainedValue().received(flags: flags, error: error, data: data, length: length)
            }, context)
            guard status == DNSServiceErrorType(kDNSServiceErr_NoError), let reference else {
                reference = nil
                Unmanaged<SRVQuery>.fromOpaque(context).release()
                finish()
                return
            }
            DNSServiceSetDispatchQueue(reference, queue)
            queue.asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.nanoseconds))) { self.finish() }
        }
    }

    /// One answer (on the queue); the last of a batch ends the query.
    private func received(flags: DNSServiceFlags, error: DNSServiceErrorType, data: UnsafeRawPointer?, length: UInt16) {
        if error == DNSServiceErrorType(kDNSServiceErr_NoError), flags & DNSServiceFlags(kDNSServiceFlagsAdd) != 0, let data,
           let record = DNSMessage.parseSRVData(Array(UnsafeRawBufferPointer(start: data, count: Int(length)))) {
            records.append(record)
        }
        if error != DNSServiceErrorType(kDNSServiceErr_NoError) || flags & DNSServiceFlags(kDNSServiceFlagsMoreComing) == 0 { finish() }
    }

    /// Answers once, and stops the query.
    private func finish() {
        guard let continuation else { return }
        self.continuation = nil
        if let reference {
            DNSServiceRefDeallocate(reference)
            self.reference = nil
            Unmanaged.passUnretained(self).release()
        }
        continuation.resume(returning: records)
    }
}
#endif
