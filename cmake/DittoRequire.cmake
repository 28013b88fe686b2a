# ditto_require_found(<found-var> <what> <debian-package>)
# Stops configuration with the Debian package that provides a missing dependency, so a
# newcomer sees "apt-get install X" instead of a CMake stack trace.
function(ditto_require_found found what package)
    if(NOT ${found})
        message(FATAL_ERROR
            "${what} not found. On Debian 12 install it with:\n"
            "    sudo apt-get install ${package}\n"
            "(or run scripts/deps.sh, which installs every build and test dependency)")
    endif()
endfunction()
