package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(ReportSkips.class)
class NativeLibraryTest {
    @Test
    void thePackedLibraryLivesInThePlatformFolder() {
        assumeTrue(System.getProperty("os.name").toLowerCase().contains("linux")
                && System.getProperty("os.arch").equals("amd64"), "the pom packs linux-x86_64 only");
        assertEquals("native/linux-x86_64", NativeLibrary.platformFolder());
        assertEquals("/native/linux-x86_64/libmicrobatch.so", NativeLibrary.resourcePath());
    }

    @Test
    void withoutTheLibraryLoadingSaysWhereItLooked() {
        assumeTrue(NativeLibrary.class.getResource(NativeLibrary.resourcePath()) == null,
                "skipped: this build packs the native library");
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, NativeLibrary::load);
        assertTrue(e.getMessage().contains("is not in the jar"), e.getMessage());
        assertTrue(e.getMessage().contains("java.library.path"), e.getMessage());
        assertFalse(NativeLibrary.isLoaded());
    }

    @Test
    void anExplicitPathIsTheOnlyPlaceLooked(@TempDir Path dir) {
        assumeTrue(!NativeLibrary.isLoaded(), "skipped: the library is already loaded in this JVM");
        Path absent = dir.resolve("libmicrobatch.so");
        System.setProperty(NativeLibrary.PATH_PROPERTY, absent.toString());
        try {
            // Even where the jar packs the library: a path given on purpose is not second-guessed.
            UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, NativeLibrary::load);
            assertEquals("cannot load libmicrobatch: -Dmicrobatch.native.path=" + absent + " is not a file", e.getMessage());
            assertFalse(NativeLibrary.isLoaded());
        } finally {
            System.clearProperty(NativeLibrary.PATH_PROPERTY);
        }
    }
}
