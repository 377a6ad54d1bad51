package com.reactive.platform.gateway.microbatch;

import java.util.Locale;

/** Which collector {@link MicrobatchCollector#create(java.util.Map)} builds. */
public enum Implementation {
    /** The pure-Java collector in this jar: no native library needed. */
    JAVA,
    /** The Rust collector in {@code libmicrobatch.so}, through JNI. */
    RUST;

    /**
     * Parses {@code java} or {@code rust} (case-insensitive, surrounding blanks ignored).
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Implementation parse(String value) {
        if (value != null) {
            switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "java":
                    return JAVA;
                case "rust":
                    return RUST;
                default:
                    break;
            }
        }
        throw new IllegalArgumentException("`microbatch.impl` must be java or rust, got \"" + value + "\"");
    }
}
