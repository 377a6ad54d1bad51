package com.reactive.platform.kafka.benchmark;

import org.apache.kafka.common.config.ConfigException;

/** Tells a configuration the client refused (exit 2: the spec is wrong) from a failure of the run. */
final class SpecErrors {
    private SpecErrors() {
    }

    /**
     * {@code e} as a {@link CellSpec.Invalid} when it, or its cause, is a refused configuration
     * ({@link IllegalArgumentException} from a collector, {@link ConfigException} from
     * kafka-clients); else {@code e} itself.
     */
    static RuntimeException asInvalid(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof IllegalArgumentException || t instanceof ConfigException) {
                return new CellSpec.Invalid("config: " + t.getMessage());
            }
        }
        return e;
    }
}
