# SPDX-License-Identifier: Apache-2.0 OR MIT
"""cc_headers: the headers of C++ libraries, as files and runfiles.

A data dependency on a cc_library brings only its compiled library, not its headers. A test that
runs the compiler itself (//examples:forgotten_await_test) needs the headers in its runfiles,
laid out as in the workspace so that `-I.` in the runfiles directory finds "runtime/trio.h".
"""

def _cc_headers_impl(ctx):
    headers = depset(transitive = [
        dep[CcInfo].compilation_context.headers
        for dep in ctx.attr.deps
    ])
    return [DefaultInfo(
        files = headers,
        runfiles = ctx.runfiles(transitive_files = headers),
    )]

cc_headers = rule(
    implementation = _cc_headers_impl,
    doc = "Collects the transitive headers of `deps` (C++ libraries) as files and runfiles.",
    attrs = {
        "deps": attr.label_list(providers = [CcInfo], doc = "The C++ libraries."),
    },
)
