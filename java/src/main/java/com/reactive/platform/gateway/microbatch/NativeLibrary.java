package com.reactive.platform.gateway.microbatch;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads {@code libmicrobatch.so} for the JNI bridge: the file named by the system property
 * {@value #PATH_PROPERTY} when it is set (and only that file); otherwise first the copy packed
 * in this jar (or classes folder) under {@code native/<platform>/} (the Maven profile
 * {@code native} puts it there), extracted to a temporary file because a library cannot be
 * loaded from inside a jar; failing that, the system's {@code java.library.path}
 * ({@code System.loadLibrary("microbatch")}).
 */
public final class NativeLibrary {
    /** The library's base name, as {@code System.loadLibrary} takes it. */
    public static final String NAME = "microbatch";
    /**
     * System property naming the library file to load, e.g. {@code target/release/libmicrobatch.so}:
     * for tools that run from a build tree, where the packed copy may be older than the file
     * cargo just built.
     */
    public static final String PATH_PROPERTY = "microbatch.native.path";

    private static volatile boolean loaded;

    private NativeLibrary() {
    }

    /** The folder inside the jar for this JVM's platform, e.g. {@code native/linux-x86_64}. */
    public static String platformFolder() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osPart = os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.replaceAll("\\W", "");
        String archPart = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return "native/" + osPart + "-" + archPart;
    }

    /** The resource path of the packed library for this platform. */
    public static String resourcePath() {
        return "/" + platformFolder() + "/" + System.mapLibraryName(NAME);
    }

    /**
     * Loads the library once per class loader; later calls return at once.
     *
     * @throws UnsatisfiedLinkError naming both places it looked when neither worked
     */
    public static synchronized void load() {
        if (loaded) {
            return;
        }
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            loadFile(Path.of(explicit.trim()).toAbsolutePath());
            return;
        }
        String fromJar;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resourcePath())) {
            if (in != null) {
                Path tmp = Files.createTempFile("libmicrobatch-", ".so");
                tmp.toFile().deleteOnExit();
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                System.load(tmp.toAbsolutePath().toString());
                loaded = true;
                return;
            }
            fromJar = resourcePath() + " is not in the jar (build with -Dmicrobatch.native=true)";
        } catch (IOException | UnsatisfiedLinkError e) {
            fromJar = "loading " + resourcePath() + " from the jar failed: " + e.getMessage();
        }
        try {
            System.loadLibrary(NAME);
            loaded = true;
        } catch (UnsatisfiedLinkError e) {
            throw new UnsatisfiedLinkError("cannot load lib" + NAME + ": " + fromJar + "; and from java.library.path ("
                    + System.getProperty("java.library.path") + "): " + e.getMessage());
        }
    }

    /** Loads exactly {@code file}: an explicit path that does not work is an error, not a fallback. */
    private static void loadFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UnsatisfiedLinkError("cannot load lib" + NAME + ": -D" + PATH_PROPERTY + "=" + file
                    + " is not a file");
        }
        try {
            System.load(file.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new UnsatisfiedLinkError("cannot load lib" + NAME + " from -D" + PATH_PROPERTY + "=" + file + ": "
                    + e.getMessage());
        }
        loaded = true;
    }

    /** True once {@link #load()} succeeded. */
    public static boolean isLoaded() {
        return loaded;
    }
}
