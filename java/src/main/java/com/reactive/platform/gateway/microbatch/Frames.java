package com.reactive.platform.gateway.microbatch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Batch frame format v1: how a batch of events travels as one Kafka record. A pure-Java
 * decoder and encoder, byte-compatible with {@code src/frame.rs} and
 * {@code bindings/c/microbatch_frame.h}; no native library is needed.
 *
 * <pre>
 * offset  size  field                (integers little-endian)
 * 0       2     magic, the bytes 0x4D 0x42 ("MB")
 * 2       1     version, 1
 * 3       1     flags, 0 (reserved; a v1 decoder refuses any other value)
 * 4       4     event count, u32
 * 8       ...   count events, each: u32 length, then that many bytes
 * </pre>
 *
 * <p>A frame ends exactly after its last event. The decoder never trusts a length: a count
 * larger than the bytes can hold is refused before anything is read, each event length is
 * checked against the bytes that remain, and trailing bytes are refused. A malformed frame
 * delivers nothing: both {@link #decode} and {@link #forEach} validate the whole frame before
 * they hand out the first event. The error messages are the Rust decoder's.
 */
public final class Frames {
    /** Bytes of the frame header. */
    public static final int HEADER_BYTES = 8;
    /** Bytes of each event's length prefix. */
    public static final int EVENT_PREFIX_BYTES = 4;
    /** The format version this class reads and writes. */
    public static final byte VERSION = 1;
    static final byte MAGIC_0 = 0x4D;
    static final byte MAGIC_1 = 0x42;

    private Frames() {
    }

    /**
     * Decodes a whole frame into copies of its events, in order.
     *
     * @throws MalformedFrameException if the frame is not valid (nothing is returned then)
     * @throws NullPointerException    if {@code frame} is null
     */
    public static List<byte[]> decode(byte[] frame) {
        Objects.requireNonNull(frame, "frame");
        ByteBuffer buf = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        int count = validate(buf);
        List<byte[]> events = new ArrayList<>(count);
        int pos = HEADER_BYTES;
        for (int i = 0; i < count; i++) {
            int len = buf.getInt(pos);
            pos += EVENT_PREFIX_BYTES;
            events.add(Arrays.copyOfRange(frame, pos, pos + len));
            pos += len;
        }
        return events;
    }

    /**
     * Validates the frame between {@code frame}'s position and limit, then calls {@code event}
     * once per event, in order. Nothing is called for a malformed frame.
     *
     * <p>The consumer receives one reused view of the frame's bytes whose position and limit
     * enclose the event: it is valid during the call only, and the consumer may move its
     * position freely. {@code frame}'s own position, limit and byte order are not changed.
     *
     * @return the number of events
     * @throws MalformedFrameException if the frame is not valid
     */
    public static int forEach(ByteBuffer frame, Consumer<ByteBuffer> event) {
        Objects.requireNonNull(frame, "frame");
        Objects.requireNonNull(event, "event");
        ByteBuffer buf = frame.slice().order(ByteOrder.LITTLE_ENDIAN);
        int count = validate(buf);
        ByteBuffer view = buf.duplicate();
        int pos = HEADER_BYTES;
        for (int i = 0; i < count; i++) {
            int len = buf.getInt(pos);
            pos += EVENT_PREFIX_BYTES;
            // limit before position: the new position may lie past the old limit.
            view.limit(pos + len).position(pos);
            event.accept(view);
            pos += len;
        }
        return count;
    }

    /**
     * Checks the whole frame in {@code buf} (position 0 to limit, little-endian) and returns
     * its event count.
     */
    private static int validate(ByteBuffer buf) {
        int count = readHeader(buf);
        int len = buf.limit();
        long pos = HEADER_BYTES;
        for (int i = 0; i < count; i++) {
            long left = len - pos;
            if (left < EVENT_PREFIX_BYTES) {
                throw new MalformedFrameException("event " + i + " truncated: no room for its length");
            }
            long eventLen = Integer.toUnsignedLong(buf.getInt((int) pos));
            long body = left - EVENT_PREFIX_BYTES;
            if (eventLen > body) {
                throw new MalformedFrameException(
                        "event " + i + " claims " + eventLen + " bytes but only " + body + " remain");
            }
            pos += EVENT_PREFIX_BYTES + eventLen;
        }
        if (pos != len) {
            throw new MalformedFrameException((len - pos) + " bytes trail the last event");
        }
        return count;
    }

    /** Checks the header and returns the event count, which the frame's bytes can hold. */
    private static int readHeader(ByteBuffer buf) {
        int len = buf.limit();
        if (len < HEADER_BYTES) {
            throw new MalformedFrameException(
                    "frame truncated: " + len + " bytes, the header alone needs " + HEADER_BYTES);
        }
        byte m0 = buf.get(0);
        byte m1 = buf.get(1);
        if (m0 != MAGIC_0 || m1 != MAGIC_1) {
            throw new MalformedFrameException(String.format(
                    "bad magic %02x %02x, expected 4d 42 (\"MB\")", m0 & 0xFF, m1 & 0xFF));
        }
        int version = buf.get(2) & 0xFF;
        if (version != VERSION) {
            throw new MalformedFrameException(
                    "unsupported frame version " + version + ", this decoder reads " + VERSION);
        }
        int flags = buf.get(3) & 0xFF;
        if (flags != 0) {
            throw new MalformedFrameException(String.format("reserved flags byte is %#04x, must be 0", flags));
        }
        long count = Integer.toUnsignedLong(buf.getInt(4));
        // Every event needs at least its prefix: refuse impossible counts before anything is
        // sized by them.
        long room = (len - HEADER_BYTES) / EVENT_PREFIX_BYTES;
        if (count > room) {
            throw new MalformedFrameException(
                    "frame claims " + count + " events but its " + len + " bytes hold at most " + room);
        }
        return (int) count;
    }

    /** Bytes a frame of these events occupies. */
    public static long encodedLength(List<byte[]> events) {
        long bytes = HEADER_BYTES;
        for (byte[] e : events) {
            bytes += EVENT_PREFIX_BYTES + (long) e.length;
        }
        return bytes;
    }

    /**
     * Encodes {@code events} as one frame.
     *
     * @throws IllegalArgumentException if the frame would exceed {@link Integer#MAX_VALUE} bytes
     */
    public static byte[] encode(List<byte[]> events) {
        long bytes = encodedLength(events);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a frame of " + bytes + " bytes exceeds the maximum of " + Integer.MAX_VALUE);
        }
        byte[] frame = new byte[(int) bytes];
        ByteBuffer buf = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        writeHeader(buf, events.size());
        for (byte[] e : events) {
            buf.putInt(e.length).put(e);
        }
        return frame;
    }

    /** Writes a v1 header announcing {@code count} events at the buffer's position. */
    static void writeHeader(ByteBuffer littleEndian, int count) {
        littleEndian.put(MAGIC_0).put(MAGIC_1).put(VERSION).put((byte) 0).putInt(count);
    }
}
