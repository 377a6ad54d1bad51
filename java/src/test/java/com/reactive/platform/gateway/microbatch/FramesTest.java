package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FramesTest {
    private static byte[] frame(byte[]... events) {
        return Frames.encode(Arrays.asList(events));
    }

    @Test
    void layoutIsByteExact() {
        byte[] f = frame("ab".getBytes(), new byte[0]);
        assertArrayEquals(new byte[] {0x4D, 0x42, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}, f);
        List<byte[]> events = Frames.decode(f);
        assertEquals(2, events.size());
        assertArrayEquals("ab".getBytes(), events.get(0));
        assertArrayEquals(new byte[0], events.get(1));
    }

    @Test
    void emptyFrameIsValid() {
        byte[] f = frame();
        assertEquals(Frames.HEADER_BYTES, f.length);
        assertTrue(Frames.decode(f).isEmpty());
        assertEquals(0, Frames.forEach(ByteBuffer.wrap(f), e -> { throw new AssertionError("no events"); }));
    }

    @Test
    void randomFramesRoundTrip() {
        Random random = new Random(7);
        for (int round = 0; round < 200; round++) {
            List<byte[]> events = new ArrayList<>();
            for (int i = random.nextInt(40); i > 0; i--) {
                byte[] e = new byte[random.nextInt(64)];
                random.nextBytes(e);
                events.add(e);
            }
            List<byte[]> decoded = Frames.decode(Frames.encode(events));
            assertEquals(events.size(), decoded.size());
            for (int i = 0; i < events.size(); i++) {
                assertArrayEquals(events.get(i), decoded.get(i));
            }
        }
    }

    @Test
    void refusesBadHeadersWithTheRustMessages() {
        byte[] good = frame("x".getBytes());
        assertMalformed(set(good, 0, 0), "bad magic 00 42, expected 4d 42 (\"MB\")");
        assertMalformed(set(good, 1, 0), "bad magic 4d 00, expected 4d 42 (\"MB\")");
        assertMalformed(set(good, 2, 2), "unsupported frame version 2, this decoder reads 1");
        assertMalformed(set(good, 3, 1), "reserved flags byte is 0x01, must be 0");
        assertMalformed(Arrays.copyOf(good, 7), "frame truncated: 7 bytes, the header alone needs 8");
        byte[] huge = good.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(4, -1);
        assertMalformed(huge, "frame claims 4294967295 events but its 13 bytes hold at most 1");
    }

    @Test
    void refusesEveryTruncationAndTrailingBytes() {
        byte[] good = frame("hello".getBytes(), "world".getBytes());
        for (int cut = 0; cut < good.length; cut++) {
            byte[] truncated = Arrays.copyOf(good, cut);
            assertThrows(MalformedFrameException.class, () -> Frames.decode(truncated), "cut at " + cut);
        }
        byte[] trailing = Arrays.copyOf(good, good.length + 1);
        assertMalformed(trailing, "1 bytes trail the last event");
        byte[] missingPrefix = frame("abcdefgh".getBytes());
        ByteBuffer.wrap(missingPrefix).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 2);
        assertMalformed(missingPrefix, "event 1 truncated: no room for its length");
        byte[] longEvent = good.clone();
        ByteBuffer.wrap(longEvent).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 1000);
        assertMalformed(longEvent, "event 0 claims 1000 bytes but only 14 remain");
    }

    @Test
    void forEachDeliversNothingFromAMalformedFrame() {
        byte[] trailing = Arrays.copyOf(frame("a".getBytes(), "b".getBytes()), 20);
        int[] calls = {0};
        MalformedFrameException e = assertThrows(MalformedFrameException.class,
                () -> Frames.forEach(ByteBuffer.wrap(trailing), ev -> calls[0]++));
        assertEquals(Result.MALFORMED, e.result());
        assertEquals(0, calls[0], "no event may be delivered from a malformed frame");
    }

    @Test
    void forEachReadsBetweenPositionAndLimitAndLeavesTheBufferAlone() {
        byte[] f = frame("one".getBytes(), "three".getBytes());
        ByteBuffer buf = ByteBuffer.allocate(f.length + 10).order(ByteOrder.BIG_ENDIAN);
        buf.position(4);
        buf.put(f);
        buf.position(4).limit(4 + f.length);
        List<String> seen = new ArrayList<>();
        int n = Frames.forEach(buf, ev -> {
            byte[] b = new byte[ev.remaining()];
            ev.get(b);
            seen.add(new String(b));
        });
        assertEquals(2, n);
        assertEquals(List.of("one", "three"), seen);
        assertEquals(4, buf.position());
        assertEquals(4 + f.length, buf.limit());
        assertEquals(ByteOrder.BIG_ENDIAN, buf.order());
    }

    @Test
    void mutatedFramesDecodeCompletelyOrFailCleanly() {
        Random random = new Random(11);
        for (int round = 0; round < 2000; round++) {
            List<byte[]> events = new ArrayList<>();
            for (int i = 1 + random.nextInt(7); i > 0; i--) {
                byte[] e = new byte[random.nextInt(16)];
                random.nextBytes(e);
                events.add(e);
            }
            byte[] f = Frames.encode(events);
            f[random.nextInt(f.length)] = (byte) random.nextInt(256);
            try {
                List<byte[]> decoded = Frames.decode(f);
                // A successful decode accounts for every byte.
                long used = Frames.HEADER_BYTES;
                for (byte[] e : decoded) {
                    used += Frames.EVENT_PREFIX_BYTES + e.length;
                }
                assertEquals(f.length, used);
            } catch (MalformedFrameException expected) {
                assertEquals(Result.MALFORMED, expected.result());
            }
        }
    }

    private static byte[] set(byte[] frame, int index, int value) {
        byte[] copy = frame.clone();
        copy[index] = (byte) value;
        return copy;
    }

    private static void assertMalformed(byte[] frame, String message) {
        MalformedFrameException e = assertThrows(MalformedFrameException.class, () -> Frames.decode(frame));
        assertEquals("MB_ERR_MALFORMED: " + message, e.getMessage());
        MalformedFrameException again = assertThrows(MalformedFrameException.class,
                () -> Frames.forEach(ByteBuffer.wrap(frame), ev -> { }));
        assertEquals(e.getMessage(), again.getMessage());
    }
}
