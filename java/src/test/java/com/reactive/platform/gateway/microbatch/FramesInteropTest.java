package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Frames written by the Rust crate (its encoder and its collector; see
 * src/test/rust/frame-fixtures) decode in Java to the events the generator wrote, and the Java
 * encoder writes the same bytes as the Rust one.
 */
class FramesInteropTest {
    private static final int[] MIXED_LENS = {0, 1, 2, 3, 7, 8, 100, 255, 256, 1000, 4096, 65536};

    /** The generator's formula: byte j of event i. */
    static byte[] event(int i, int len) {
        byte[] e = new byte[len];
        for (int j = 0; j < len; j++) {
            e[j] = (byte) ((i * 31 + j * 7 + 3) & 0xFF);
        }
        return e;
    }

    private static int mixedLen(int i) {
        return i < MIXED_LENS.length ? MIXED_LENS[i] : i - MIXED_LENS.length;
    }

    private static byte[] fixture(String name) throws IOException {
        try (InputStream in = FramesInteropTest.class.getResourceAsStream("/frames/" + name)) {
            if (in == null) {
                throw new AssertionError("fixture " + name + " is missing");
            }
            return in.readAllBytes();
        }
    }

    @Test
    void encoderFramesDecodeAndMatchTheJavaEncoderByteForByte() throws IOException {
        byte[] empty = fixture("encoder-empty.bin");
        assertTrue(Frames.decode(empty).isEmpty());
        assertArrayEquals(Frames.encode(List.of()), empty);

        byte[] layout = fixture("encoder-layout.bin");
        assertArrayEquals(Frames.encode(List.of("ab".getBytes(), new byte[0])), layout);

        byte[] mixed = fixture("encoder-mixed.bin");
        List<byte[]> expected = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            expected.add(event(i, mixedLen(i)));
        }
        List<byte[]> decoded = Frames.decode(mixed);
        assertEquals(expected.size(), decoded.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), decoded.get(i), "event " + i);
        }
        assertArrayEquals(Frames.encode(expected), mixed);
    }

    @Test
    void framesOfTheRustCollectorHoldEveryEventInOrder() throws IOException, URISyntaxException {
        URL dir = FramesInteropTest.class.getResource("/frames");
        List<Path> files;
        try (Stream<Path> s = Files.list(Path.of(dir.toURI()))) {
            files = s.filter(p -> p.getFileName().toString().startsWith("collector-")).sorted()
                    .collect(Collectors.toList());
        }
        assertTrue(files.size() > 1, "expected several collector frames, found " + files.size());
        int next = 0;
        for (Path file : files) {
            byte[] frame = Files.readAllBytes(file);
            int[] index = {next};
            int count = Frames.forEach(ByteBuffer.wrap(frame), ev -> {
                byte[] b = new byte[ev.remaining()];
                ev.get(b);
                assertArrayEquals(event(index[0], 100), b, "event " + index[0] + " in " + file.getFileName());
                index[0]++;
            });
            assertEquals(count, Frames.decode(frame).size());
            next = index[0];
        }
        assertEquals(2000, next);
    }
}
