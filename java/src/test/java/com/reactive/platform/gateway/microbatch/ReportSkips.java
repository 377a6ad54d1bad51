package com.reactive.platform.gateway.microbatch;

import java.util.Optional;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Prints every skipped test and why on the console, so a row skipped for lack of the native
 * library is seen in the build output and not only in the XML reports.
 */
final class ReportSkips implements TestWatcher {
    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        System.out.println("SKIPPED " + context.getParent().map(ExtensionContext::getDisplayName).orElse("") + " "
                + context.getDisplayName() + ": " + cause.getMessage());
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
        System.out.println("SKIPPED " + context.getDisplayName() + ": " + reason.orElse("disabled"));
    }
}
