# cpack -G DEB (run in the build directory) makes two Debian packages from the install components:
#   libdistributedpromise0     Runtime: the shared library and the QML module
#   libdistributedpromise-dev  Development: headers, the .so links, the CMake package and
#                              DistributedPromise.pc (pkg-config, qmake's PKGCONFIG)
# For a package that goes into /usr, configure with -DCMAKE_INSTALL_PREFIX=/usr, so that the
# library and the QML module land in Debian's multiarch directories where Qt looks for them.
set(CPACK_PACKAGE_NAME distributedpromise)
set(CPACK_PACKAGE_VENDOR "DistributedPromise")
set(CPACK_PACKAGE_CONTACT "DistributedPromise maintainers <maintainers@distributedpromise.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "libdistributedpromise${PROJECT_VERSION_MAJOR}")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME "libdistributedpromise-dev")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${PROJECT_DESCRIPTION} (shared library and QML module)")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "${PROJECT_DESCRIPTION} (headers, CMake and pkg-config files)")
# The runtime package's dependencies come from its binaries (dpkg-shlibdeps, package dpkg-dev);
# the -dev package needs the runtime one and what DistributedPromiseConfig.cmake and
# DistributedPromise.pc ask for.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}/src" "${PROJECT_BINARY_DIR}/src/qml")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_DEVELOPMENT_DEPENDS Runtime)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "qt6-base-dev, libhiredis-dev, pkg-config")
include(CPack)
