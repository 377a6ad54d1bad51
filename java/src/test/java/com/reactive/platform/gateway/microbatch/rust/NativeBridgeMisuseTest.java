package com.reactive.platform.gateway.microbatch.rust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.reactive.platform.gateway.microbatch.MicrobatchException;
import com.reactive.platform.gateway.microbatch.Result;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Calls the native methods directly with every kind of bad argument a Java caller can make:
 * each must throw the documented exception and leave the JVM and the collector intact (a crash
 * here would take the whole test run down, which is the point). The collector API in front of
 * the bridge checks most of these itself; this proves the native side does not depend on it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NativeBridgeMisuseTest {
    private long handle;

    @BeforeEach
    void open() {
        assumeTrue(RustMicrobatchCollector.unavailableReason() == null,
                "skipped: native library not built (" + RustMicrobatchCollector.unavailableReason() + ")");
        handle = NativeBridge.create(new String[] {"sink", "event.max.bytes", "partitions", "calibration.enabled"},
                new String[] {"null", "100", "2", "false"}, null);
        assertNotEquals(0, handle);
    }

    @AfterEach
    void close() {
        if (handle != 0) {
            NativeBridge.close(handle, null);
        }
    }

    private static ByteBuffer ackBuffer(int records) {
        return ByteBuffer.allocateDirect(records * NativeBridge.ACK_RECORD_BYTES + 8).alignedSlice(8)
                .order(ByteOrder.nativeOrder());
    }

    @Test
    void createRefusesBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.create(null, new String[0], null));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.create(new String[0], null, null));
        assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.create(new String[] {"partitions"}, new String[0], null));
        assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.create(new String[] {null}, new String[] {"1"}, null));
        assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.create(new String[] {"partitions"}, new String[] {null}, null));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.create(new String[] {"partitions"}, new String[] {"0"}, null));
        assertEquals("`partitions` must be an integer from 1 to 1024, got \"0\"", bad.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.create(new String[] {"no.such.key"}, new String[] {"1"}, null));
        assertTrue(unknown.getMessage().startsWith("unknown key `no.such.key`"), unknown.getMessage());
    }

    @Test
    void theNativeKeysAreTheCLibrarysDocumentedOnes() {
        Set<String> keys = RustMicrobatchCollector.nativeKeys();
        assertTrue(keys.containsAll(Set.of("partitions", "ring.type", "event.max.bytes", "tracking.slots", "sink",
                "kafka.topic")), keys.toString());
        assertFalse(keys.contains("ack.timeout.ms"), "a Java-side key");
    }

    @Test
    void nullsAndBadRangesAreIllegalArguments() {
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submit(handle, null));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitTracked(handle, null));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitBatch(handle, null, 0, 1));
        byte[][] three = {new byte[1], new byte[2], new byte[3]};
        for (int[] range : new int[][] {{-1, 1}, {0, -1}, {2, 2}, {4, 0}, {Integer.MAX_VALUE, 1}, {1, Integer.MAX_VALUE},
                {Integer.MIN_VALUE, 0}}) {
            assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitBatch(handle, three, range[0], range[1]),
                    () -> "offset " + range[0] + ", count " + range[1]);
            assertThrows(IllegalArgumentException.class,
                    () -> NativeBridge.submitTrackedBatch(handle, three, range[0], range[1], new long[3]));
        }
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitTrackedBatch(handle, three, 0, 3, null));
        assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.submitTrackedBatch(handle, three, 0, 3, new long[2]), "tickets too short");
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.status(handle, null));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.status(handle, new long[3]));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.close(handle, new long[3]),
                "a close that cannot report its final status closes nothing");
        long[] status = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.status(handle, status);
        assertEquals(0, status[NativeBridge.SUBMITTED], "nothing was submitted by the refused calls");
    }

    @Test
    void theStatusArrayHasTheLengthTheLibraryAsksFor() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.status(handle, new long[NativeBridge.STATUS_FIELDS.size() - 1]));
        assertTrue(e.getMessage().contains("long[" + NativeBridge.STATUS_FIELDS.size() + "]"), e.getMessage());
        NativeBridge.status(handle, new long[NativeBridge.STATUS_FIELDS.size() + 5]);
    }

    @Test
    void aNullElementStopsABatchAfterTheEventsBeforeIt() {
        byte[][] withNull = {new byte[1], new byte[2], null, new byte[3]};
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitBatch(handle, withNull, 0, 4));
        long[] tickets = new long[4];
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitTrackedBatch(handle, withNull, 0, 4, tickets));
        assertTrue(tickets[0] > 0 && tickets[1] > 0, "tickets of the events accepted before the null are reported");
        NativeBridge.flush(handle, 5_000);
        long[] status = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.status(handle, status);
        assertEquals(4, status[NativeBridge.SUBMITTED]);
        assertEquals(4, status[NativeBridge.DELIVERED]);
    }

    @Test
    void oversizedEventsAreIllegalArgumentsAndCountedRejected() {
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submit(handle, new byte[101]));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitTracked(handle, new byte[101]));
        assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.submitBatch(handle, new byte[][] {new byte[101]}, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submit(handle, new byte[1 << 20]));
        assertTrue(NativeBridge.submit(handle, new byte[100]));
        long[] status = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.status(handle, status);
        assertEquals(4, status[NativeBridge.REJECTED]);
        assertEquals(1, status[NativeBridge.SUBMITTED]);
    }

    @Test
    void theStagingBlockIsTheCallingThreadsOwnAndItsSizesAreChecked() throws Exception {
        ByteBuffer staged = NativeBridge.stagingBuffer().order(ByteOrder.LITTLE_ENDIAN);
        assertTrue(staged.isDirect());
        assertEquals(RustMicrobatchCollector.STAGING_BYTES, staged.capacity());
        staged.putInt(0, 3).put(4, new byte[] {1, 2, 3}).putInt(7, 0);
        int limit = staged.capacity();
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitStaged(handle, -1, 2));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitStaged(handle, limit + 1, 2));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitStaged(handle, 11, -1));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitStaged(handle, 11, 3), "not 3 events");
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitStagedEvent(handle, -1));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitStagedEvent(handle, limit + 1));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitTrackedStaged(handle, -1));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitTrackedStaged(handle, limit + 1));
        IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.submitStagedEvent(handle, 101));
        assertTrue(tooLarge.getMessage().contains("event.max.bytes"), tooLarge.getMessage());
        long[] status = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.status(handle, status);
        assertEquals(0, status[NativeBridge.SUBMITTED], "nothing was submitted by the refused calls");

        assertEquals(2, NativeBridge.submitStaged(handle, 11, 2));
        assertTrue(NativeBridge.submitStagedEvent(handle, 4), "the first 4 bytes as one event");
        // Another thread has a block of its own (zeroed, so 8 bytes are two empty events), and the
        // same call there never reads this thread's.
        int[] other = new int[1];
        Thread t = new Thread(() -> {
            ByteBuffer theirs = NativeBridge.stagingBuffer();
            assertEquals(0, theirs.get(4));
            other[0] = NativeBridge.submitStaged(handle, 8, 2);
        });
        t.start();
        t.join();
        assertEquals(2, other[0]);
        NativeBridge.flush(handle, 5_000);
        NativeBridge.status(handle, status);
        assertEquals(5, status[NativeBridge.SUBMITTED]);
        assertEquals(5, status[NativeBridge.DELIVERED]);
    }

    /** Two events packed as submitPacked takes them: 3 bytes, then an empty one (11 bytes). */
    private static ByteBuffer packedPair() {
        ByteBuffer packed = ByteBuffer.allocateDirect(64).order(ByteOrder.LITTLE_ENDIAN);
        packed.putInt(0, 3).put(4, new byte[] {1, 2, 3}).putInt(7, 0);
        return packed;
    }

    @Test
    void aPackedBlockMustBeDirectFitItsBufferAndHoldExactlyCountEvents() {
        ByteBuffer packed = packedPair();
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, null, 11, 2));
        ByteBuffer heap = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        heap.putInt(0, 3).put(4, new byte[] {1, 2, 3}).putInt(7, 0);
        IllegalArgumentException notDirect = assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.submitPacked(handle, heap, 11, 2));
        assertTrue(notDirect.getMessage().contains("direct"), notDirect.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, packed.slice(0, 8), 11, 2),
                "a capacity under the packed bytes");
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, packed, 65, 2));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, packed, -1, 2));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, packed, 11, -1));
        for (int count : new int[] {0, 1, 3, Integer.MAX_VALUE}) {
            IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                    () -> NativeBridge.submitPacked(handle, packed, 11, count), () -> "count " + count);
            assertTrue(wrong.getMessage().contains("must hold exactly " + count + " events"), wrong.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, packed, 10, 2), "truncated");
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submitPacked(handle, packed, 12, 2), "a stray byte");
        ByteBuffer large = ByteBuffer.allocateDirect(200).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 101);
        IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                () -> NativeBridge.submitPacked(handle, large, 105, 1));
        assertTrue(tooLarge.getMessage().contains("exceeds event.max.bytes = 100"), tooLarge.getMessage());
        long[] status = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.status(handle, status);
        assertEquals(0, status[NativeBridge.SUBMITTED], "nothing was submitted by the refused calls");
        assertEquals(1, status[NativeBridge.REJECTED], "the too-large event");

        assertEquals(0, NativeBridge.submitPacked(handle, packed, 0, 0));
        assertEquals(2, NativeBridge.submitPacked(handle, packed, 11, 2));
        NativeBridge.flush(handle, 5_000);
        NativeBridge.status(handle, status);
        assertEquals(2, status[NativeBridge.SUBMITTED]);
        assertEquals(2, status[NativeBridge.DELIVERED]);
    }

    @Test
    void theAckBufferMustBeDirectAlignedAndHoldARecord() {
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.pollAcks(handle, null, 0));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.pollAcks(handle, ByteBuffer.allocate(1024), 0));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.pollAcks(handle, ackBuffer(1).slice(0, 16), 0));
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.pollAcks(handle, ackBuffer(2).slice(1, 40), 0));
        assertEquals(0, NativeBridge.pollAcks(handle, ackBuffer(4), 0), "nothing tracked yet");
        assertEquals(0, NativeBridge.pollAcks(handle, ackBuffer(4), -5), "a negative timeout does not wait");
    }

    @Test
    void trackedOutcomesAreDrainedOnceWithTheirTickets() {
        byte[][] events = new byte[10][];
        for (int i = 0; i < events.length; i++) {
            events[i] = new byte[] {(byte) i};
        }
        long[] tickets = new long[10];
        assertEquals(10, NativeBridge.submitTrackedBatch(handle, events, 0, 10, tickets));
        Set<Long> issued = new HashSet<>();
        for (long t : tickets) {
            assertTrue(t > 0);
            issued.add(t);
        }
        long single = NativeBridge.submitTracked(handle, new byte[] {42});
        assertTrue(single > 0);
        issued.add(single);
        assertEquals(11, issued.size(), "tickets are distinct");
        NativeBridge.flush(handle, 5_000);
        ByteBuffer out = ackBuffer(4); // smaller than the backlog: drained over several calls
        Set<Long> drained = new HashSet<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (drained.size() < 11 && System.nanoTime() < deadline) {
            int n = NativeBridge.pollAcks(handle, out, 100);
            assertTrue(n >= 0 && n <= 4, "n = " + n);
            for (int i = 0; i < n; i++) {
                int at = i * NativeBridge.ACK_RECORD_BYTES;
                assertTrue(drained.add(out.getLong(at + NativeBridge.ACK_TICKET)), "each outcome once");
                assertEquals(Result.OK.code(), out.getInt(at + NativeBridge.ACK_RESULT));
                assertEquals(-1, out.getInt(at + NativeBridge.ACK_PARTITION), "the null sink has no positions");
            }
        }
        assertEquals(issued, drained);
        assertEquals(0, NativeBridge.pollAcks(handle, out, 0));
    }

    @Test
    void aClosedHandleAnswersIllegalStateAndCloseIsIdempotent() {
        assertTrue(NativeBridge.submit(handle, new byte[10]));
        long ticket = NativeBridge.submitTracked(handle, new byte[10]);
        assertTrue(ticket > 0);
        long[] last = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.close(handle, last);
        assertEquals(2, last[NativeBridge.SUBMITTED], "the final status");
        assertEquals(2, last[NativeBridge.DELIVERED], "close delivered what was pending");
        long[] untouched = new long[NativeBridge.STATUS_FIELDS.size()];
        NativeBridge.close(handle, untouched);
        NativeBridge.close(handle, null);
        assertArrayEquals(new long[NativeBridge.STATUS_FIELDS.size()], untouched, "a second close reports nothing");

        assertThrows(IllegalStateException.class, () -> NativeBridge.submit(handle, new byte[1]));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitTracked(handle, new byte[1]));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitBatch(handle, new byte[][] {new byte[1]}, 0, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitPacked(handle, packedPair(), 11, 2));
        NativeBridge.stagingBuffer().putInt(0, 0); // one empty event, whatever an earlier test staged
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitStaged(handle, 4, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitStagedEvent(handle, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitTrackedStaged(handle, 1));
        assertThrows(IllegalStateException.class,
                () -> NativeBridge.submitTrackedBatch(handle, new byte[][] {new byte[1]}, 0, 1, new long[1]));
        assertThrows(IllegalStateException.class, () -> NativeBridge.flush(handle, 100));
        assertThrows(IllegalStateException.class, () -> NativeBridge.status(handle, new long[NativeBridge.STATUS_FIELDS.size()]));
        // Arguments are checked before the collector is looked at, on a closed handle too.
        assertThrows(IllegalArgumentException.class, () -> NativeBridge.submit(handle, null));

        // The queue outlives the collector: the outcome settled by close is still there, then the end.
        ByteBuffer out = ackBuffer(4);
        assertEquals(1, NativeBridge.pollAcks(handle, out, 1_000));
        assertEquals(ticket, out.getLong(NativeBridge.ACK_TICKET));
        assertEquals(NativeBridge.DRAINED, NativeBridge.pollAcks(handle, out, 1_000));
        assertEquals(NativeBridge.DRAINED, NativeBridge.pollAcks(handle, out, 0), "and stays ended");
    }

    @Test
    void theZeroHandleIsAClosedCollector() {
        assertThrows(IllegalStateException.class, () -> NativeBridge.submit(0, new byte[1]));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitTracked(0, new byte[1]));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitBatch(0, new byte[][] {new byte[1]}, 0, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitPacked(0, packedPair(), 11, 2));
        NativeBridge.stagingBuffer().putInt(0, 0);
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitStaged(0, 4, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitStagedEvent(0, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.submitTrackedStaged(0, 1));
        assertThrows(IllegalStateException.class, () -> NativeBridge.pollAcks(0, ackBuffer(1), 0));
        assertThrows(IllegalStateException.class, () -> NativeBridge.flush(0, 0));
        assertThrows(IllegalStateException.class, () -> NativeBridge.status(0, new long[NativeBridge.STATUS_FIELDS.size()]));
        assertThrows(IllegalStateException.class, () -> NativeBridge.close(0, null));
    }

    @Test
    void fromCodeBuildsTheExceptionForEveryCode() {
        for (Result r : Result.values()) {
            MicrobatchException e = MicrobatchException.fromCode(r.code(), "why");
            assertEquals(r == Result.OK ? Result.INTERNAL : r, e.result());
            assertTrue(e.getMessage().contains("why"), e.getMessage());
        }
        MicrobatchException future = MicrobatchException.fromCode(99, "from a newer library");
        assertEquals(Result.INTERNAL, future.result());
        assertTrue(future.getMessage().contains("99"), future.getMessage());
    }
}
