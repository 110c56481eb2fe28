import Foundation
import Testing
import XMPPBench

/// The server CPU figures of xmpp-bench come from the server's process tree in `/proc`.
@Suite struct ProcessSampleTests {
    /// A child that used CPU and ended between two samples must not take its past off the tree's figure: the
    /// difference of totals went negative that way when a bench smoke test ran in the test process beside other tests'
    /// children.
    @Test(.timeLimit(.minutes(1)))
    func aChildThatEndsBetweenSamplesDoesNotMakeTheFigureNegative() async throws {
        let busy = Process()
        busy.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        busy.arguments = ["-c", "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\ntime.sleep(60)"]
        try busy.run()
        defer { kill(busy.processIdentifier, SIGKILL) }
        let me = ProcessInfo.processInfo.processIdentifier
        var before = try #require(ProcessSample.of(pid: me))
        while (before.cpuByProcess[busy.processIdentifier] ?? 0) < 0.4 {
            try await Task.sleep(for: .milliseconds(50))
            before = try #require(ProcessSample.of(pid: me))
        }
        // Killed and reaped here (Foundation's own wait did not return inside the test process).
        kill(busy.processIdentifier, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(busy.processIdentifier, &status, 0)
        var after = try #require(ProcessSample.of(pid: me))
        for _ in 0..<100 where after.cpuByProcess[busy.processIdentifier] != nil {
            try await Task.sleep(for: .milliseconds(20))
            after = try #require(ProcessSample.of(pid: me))
        }
        #expect(after.cpuByProcess[busy.processIdentifier] == nil)
        #expect(after.cpuSeconds - before.cpuSeconds < 0, "the plain difference, which this guards against")
        #expect(after.cpuSeconds(since: before) >= 0)
        #expect(after.cpuSeconds(since: before) < 0.4, "the ended child's past is not counted")
    }
}
