package dev.userstore.postgres

import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.UserStore
import org.junit.jupiter.api.Named
import org.junit.jupiter.params.provider.Arguments

/** The stores every replica test runs over: both implementations of [UserStore]. */
object StoreFactories {
    /** Named factories for @MethodSource. */
    @JvmStatic
    fun stores(): List<Arguments> =
        listOf<Pair<String, () -> UserStore>>(
            "KotlinUserStore" to { KotlinUserStore() },
            "NativeUserStore" to { NativeUserStore() },
        ).map { (name, factory) -> Arguments.of(Named.of(name, factory)) }
}
