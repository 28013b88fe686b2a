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

# ditto_pkg_config_target(<prefix> <pkg-config module> <debian-package> <alias>)
# A pkg-config dependency as the imported target <alias>, or the Debian package to install.
macro(ditto_pkg_config_target prefix module package alias)
    find_package(PkgConfig QUIET)
    ditto_require_found(PKG_CONFIG_FOUND "pkg-config" pkg-config)
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
    ditto_require_found(${prefix}_FOUND "${module}" ${package})
    add_library(${alias} ALIAS PkgConfig::${prefix})
endmacro()
