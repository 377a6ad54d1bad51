package com.reactive.platform.kafka.benchmark;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Benchmark events: small JSON-like records with varied fields, generated from a fixed seed, so
 * that lz4 compresses them about as well as it compresses real events (a run of one repeated
 * byte would compress to almost nothing and flatter every Kafka figure).
 *
 * <p>Each submitting thread gets its own pool of distinct arrays and cycles through it. The
 * Java collector keeps a reference to each submitted array until its frame is encoded, so the
 * arrays are never written after they are created.
 */
final class Events {
    /** The seed's event size, and the issue's. */
    static final int DEFAULT_BYTES = 100;
    /** Events per pool: enough that the pool does not sit in L1, a power of two for masking. */
    static final int POOL = 4096;

    private static final String[] TYPES = {"click", "view", "purchase", "login", "search", "logout", "add_to_cart"};
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /**
     * {@code --events json} (default): the records above. {@code --events x}: the Rust
     * kafka_baseline bench's events (an 8-byte little-endian sequence number, then 'x' bytes),
     * which lz4 squeezes to almost nothing: only to compare with that bench's figures.
     */
    static volatile String kind = "json";

    private Events() {
    }

    /** {@code count} events of exactly {@code bytes} bytes each, from {@code seed}. */
    static byte[][] pool(int count, int bytes, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[][] pool = new byte[count][];
        boolean x = kind.equals("x");
        for (int i = 0; i < count; i++) {
            pool[i] = x ? xFilled(seed * count + i, bytes) : one(r, bytes);
        }
        return pool;
    }

    private static byte[] xFilled(long seq, int bytes) {
        byte[] e = new byte[bytes];
        java.util.Arrays.fill(e, (byte) 'x');
        for (int b = 0; b < 8 && b < bytes; b++) {
            e[b] = (byte) (seq >>> (8 * b));
        }
        return e;
    }

    /**
     * {@code count} events of {@code bytes} uniformly random bytes each, from {@code seed}:
     * incompressible, the worst case for compression (brochures' {@code payload = "random"}).
     */
    static byte[][] randomPool(int count, int bytes, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[][] pool = new byte[count][];
        for (int i = 0; i < count; i++) {
            pool[i] = new byte[bytes];
            r.nextBytes(pool[i]);
        }
        return pool;
    }

    static byte[][] pool(long seed) {
        return pool(POOL, DEFAULT_BYTES, seed);
    }

    static byte[] one(SplittableRandom r, int bytes) {
        StringBuilder b = new StringBuilder(bytes + 32);
        b.append("{\"id\":").append(r.nextLong(1_000_000_000L))
                .append(",\"user\":\"u").append(r.nextInt(100_000))
                .append("\",\"type\":\"").append(TYPES[r.nextInt(TYPES.length)])
                .append("\",\"ts\":").append(1_733_000_000_000L + r.nextInt(1_000_000_000))
                .append(",\"v\":\"");
        while (b.length() < bytes - 2) {
            b.append(HEX[r.nextInt(16)]);
        }
        b.setLength(Math.max(0, bytes - 2));
        b.append("\"}");
        byte[] e = b.toString().getBytes(StandardCharsets.US_ASCII);
        if (e.length != bytes) {
            // Tiny sizes: fill, the content matters less than the size then.
            byte[] exact = new byte[bytes];
            System.arraycopy(e, 0, exact, 0, Math.min(bytes, e.length));
            return exact;
        }
        return e;
    }
}
