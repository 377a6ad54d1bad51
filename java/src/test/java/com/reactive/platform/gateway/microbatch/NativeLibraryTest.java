package com.reactive.platform.gateway.microbatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

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
}
