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

    private Events() {
    }

    /** {@code count} events of exactly {@code bytes} bytes each, from {@code seed}. */
    static byte[][] pool(int count, int bytes, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[][] pool = new byte[count][];
        for (int i = 0; i < count; i++) {
            pool[i] = one(r, bytes);
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
