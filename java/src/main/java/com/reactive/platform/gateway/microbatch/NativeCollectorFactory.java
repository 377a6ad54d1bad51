package com.reactive.platform.gateway.microbatch;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;

/**
 * The seam through which {@link MicrobatchCollector} reaches the Rust implementation without
 * depending on it at compile time, so the JNI bridge can be added (or left out of a build)
 * without touching the interface or the Java collector.
 *
 * <p>The native side is the class {@value #IMPLEMENTATION_CLASS}. It must declare
 * <pre>{@code
 * public static MicrobatchCollector create(Map<String, String> config, BatchSink sink, BatchCalibration calibration)
 * }</pre>
 * ({@code sink} and {@code calibration} may be null: frames then go where {@code config} says)
 * and may declare {@code public static String unavailableReason()}, returning null when its
 * native library is loaded and a reason otherwise (e.g. "libmicrobatch.so not found").
 */
public final class NativeCollectorFactory {
    /** The class that implements the Rust-backed collector. */
    public static final String IMPLEMENTATION_CLASS =
            "com.reactive.platform.gateway.microbatch.rust.RustMicrobatchCollector";

    /** Resolved once; holds either the factory method or why there is none. */
    private static final class Holder {
        static final MethodHandle CREATE;
        static final String UNAVAILABLE;

        static {
            MethodHandle create = null;
            String unavailable;
            try {
                Class<?> type = Class.forName(IMPLEMENTATION_CLASS);
                MethodHandles.Lookup lookup = MethodHandles.publicLookup();
                create = lookup.findStatic(type, "create", MethodType.methodType(
                        MicrobatchCollector.class, Map.class, BatchSink.class, BatchCalibration.class));
                unavailable = reasonFrom(lookup, type);
            } catch (ClassNotFoundException e) {
                unavailable = IMPLEMENTATION_CLASS + " is not on the class path (the JNI bridge is not built)";
            } catch (ReflectiveOperationException | LinkageError e) {
                unavailable = IMPLEMENTATION_CLASS + " cannot be used: " + e;
            }
            CREATE = unavailable == null ? create : null;
            UNAVAILABLE = unavailable;
        }

        private static String reasonFrom(MethodHandles.Lookup lookup, Class<?> type) {
            MethodHandle reason;
            try {
                reason = lookup.findStatic(type, "unavailableReason", MethodType.methodType(String.class));
            } catch (NoSuchMethodException | IllegalAccessException optional) {
                return null;
            }
            try {
                return (String) reason.invokeExact();
            } catch (Throwable t) {
                return "its native library failed to load: " + t;
            }
        }
    }

    private NativeCollectorFactory() {
    }

    /** True when the Rust implementation can be created in this JVM. */
    public static boolean isAvailable() {
        return Holder.UNAVAILABLE == null;
    }

    /** Why the Rust implementation cannot be created, or null when it can. */
    public static String unavailableReason() {
        return Holder.UNAVAILABLE;
    }

    /**
     * Creates a Rust-backed collector.
     *
     * @throws IllegalStateException when the Rust implementation is not available here
     */
    static MicrobatchCollector create(Map<String, String> config, BatchSink sink, BatchCalibration calibration) {
        if (Holder.CREATE == null) {
            throw new IllegalStateException("Rust implementation not available: " + Holder.UNAVAILABLE
                    + "; build it with -Dmicrobatch.native=true or choose microbatch.impl=java");
        }
        try {
            return (MicrobatchCollector) Holder.CREATE.invokeExact(config, sink, calibration);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new MicrobatchException(Result.INTERNAL, "creating the Rust collector failed", t);
        }
    }
}
