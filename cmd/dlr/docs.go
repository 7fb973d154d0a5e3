package main

import "io"

func runDocs(cmd string, args []string, stdout, stderr io.Writer, h *host) int { return exitUsage }
