# mimalloc (Debian: libmimalloc-dev) replaces malloc in the two binaries: the proxy's hot path
# allocates small, short-lived blocks (heads, frames, strings), where it measured 15% more
# requests/s than glibc on one worker (docs/benchmarks.md). DITTO_MIMALLOC=OFF keeps glibc.
option(DITTO_MIMALLOC "Link mimalloc as the allocator of the binaries" ON)
if(DITTO_MIMALLOC AND (DITTO_SANITIZE OR DITTO_FUZZ))
    # Sanitizers (fuzz builds too) bring their own allocator; two interposed mallocs do not mix.
    set(DITTO_MIMALLOC OFF)
endif()
if(DITTO_MIMALLOC)
    include(DittoRequire)
    find_package(mimalloc QUIET CONFIG)
    ditto_require_found(mimalloc_FOUND "mimalloc" libmimalloc-dev)
endif()

# ditto_use_allocator(<target>): links the allocator first, so its malloc wins at load time.
function(ditto_use_allocator target)
    if(DITTO_MIMALLOC)
        target_link_libraries(${target} PRIVATE mimalloc)
    endif()
endfunction()
