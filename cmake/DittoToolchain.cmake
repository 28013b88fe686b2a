# Compiler options shared by every target: C++20, warnings, sanitizers, ccache.
option(DITTO_WERROR "Treat warnings as errors" OFF)
set(DITTO_SANITIZE "" CACHE STRING "Sanitizers: address,undefined | thread | empty")

find_program(DITTO_CCACHE ccache)
if(DITTO_CCACHE)
    # Precompiled headers are rebuilt on every clean build; this sloppiness lets ccache
    # still reuse the objects compiled with them. BASEDIR + NOHASHDIR make paths under the
    # checkout relative, so a second clone (CI's, a worktree) hits the same cache entries
    # instead of compiling everything again (docs/build.md).
    set(CMAKE_CXX_COMPILER_LAUNCHER "${CMAKE_COMMAND}" -E env
        "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
        "CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}" "CCACHE_NOHASHDIR=true"
        "${DITTO_CCACHE}")
endif()

add_library(ditto_options INTERFACE)
target_compile_features(ditto_options INTERFACE cxx_std_20)
target_compile_options(ditto_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wno-missing-field-initializers
    # GCC 12 false positive on Asio's awaitable frame allocator (operator new/delete pair).
    -Wno-mismatched-new-delete)
if(DITTO_WERROR)
    target_compile_options(ditto_options INTERFACE -Werror)
endif()
if(DITTO_SANITIZE)
    string(REPLACE "," ";" _ditto_sans "${DITTO_SANITIZE}")
    foreach(_s IN LISTS _ditto_sans)
        if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
            message(FATAL_ERROR "DITTO_SANITIZE: unknown sanitizer '${_s}'")
        endif()
    endforeach()
    # Sanitizer instrumentation makes GCC 12 report maybe-uninitialized inside Boost's own
    # optional/parser code, and stringop-overflow / array-bounds / restrict on std::string copies whose
    # size it can no longer bound (libstdc++'s char_traits); that noise would break -Werror
    # builds, so those are off here only — the normal build keeps them.
    target_compile_options(ditto_options INTERFACE -fsanitize=${DITTO_SANITIZE}
        -fno-omit-frame-pointer -fno-sanitize-recover=all -Wno-maybe-uninitialized
        -Wno-stringop-overflow -Wno-array-bounds -Wno-restrict)
    target_link_options(ditto_options INTERFACE -fsanitize=${DITTO_SANITIZE})
    if("thread" IN_LIST _ditto_sans)
        # Asio's handler fences (std_fenced_block) are atomic_thread_fence, which TSan does not
        # model; GCC warns on each. The ordering they add is also given by the scheduler's
        # mutex, which TSan does see, so the warning is noise here.
        target_compile_options(ditto_options INTERFACE -Wno-tsan)
    endif()
endif()
if(DITTO_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "DITTO_FUZZ needs clang (libFuzzer ships with it): configure with "
            "CXX=clang++, or run scripts/fuzz.sh, which does")
    endif()
    if(DITTO_SANITIZE)
        message(FATAL_ERROR "DITTO_FUZZ already builds with address,undefined; leave "
            "DITTO_SANITIZE empty")
    endif()
    # Every library gets libFuzzer's coverage instrumentation plus ASan and UBSan; only the
    # harnesses link libFuzzer's main (tests/fuzz/CMakeLists.txt). UBSan's `function` check
    # (calls through a mistyped function pointer) is left out: clang 14 cannot emit its
    # prologue data for split coroutines and stops with "Cannot represent a difference across
    # sections" on every coroutine TU (llvm-project#49689).
    target_compile_options(ditto_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
        -fno-sanitize=function -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(ditto_options INTERFACE -fsanitize=address,undefined)
endif()
