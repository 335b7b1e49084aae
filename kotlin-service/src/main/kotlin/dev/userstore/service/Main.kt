package dev.userstore.service

import com.github.ajalt.clikt.core.main

/**
 * Entry point of the Kotlin service alone: the `serve` command's options without the word `serve`
 * (`java -cp ... dev.userstore.service.MainKt --store kotlin --port 8080`). The demo's launcher runs the
 * same command as `kotlin-demo serve ...`.
 */
fun main(args: Array<String>) = ServeCommand().main(args)
