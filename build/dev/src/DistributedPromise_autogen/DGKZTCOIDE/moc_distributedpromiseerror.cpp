/****************************************************************************
** Meta object code from reading C++ file 'distributedpromiseerror.h'
**
** Created by: The Qt Meta Object Compiler version 68 (Qt 6.4.2)
**
** WARNING! All changes made in this file will be lost!
*****************************************************************************/

#include <memory>
#include "../../../../../include/distributedpromiseerror.h"
#include <QtCore/qmetatype.h>
#if !defined(Q_MOC_OUTPUT_REVISION)
#error "The header file 'distributedpromiseerror.h' doesn't include <QObject>."
#elif Q_MOC_OUTPUT_REVISION != 68
#error "This file was generated using the moc from 6.4.2. It"
#error "cannot be used with the include files from this version of Qt."
#error "(The moc has changed too much.)"
#endif

#ifndef Q_CONSTINIT
#define Q_CONSTINIT
#endif

QT_BEGIN_MOC_NAMESPACE
QT_WARNING_PUSH
QT_WARNING_DISABLE_DEPRECATED
namespace {
struct qt_meta_stringdata_DistributedPromiseError_t {
    uint offsetsAndSizes[18];
    char stringdata0[24];
    char stringdata1[5];
    char stringdata2[11];
    char stringdata3[8];
    char stringdata4[10];
    char stringdata5[17];
    char stringdata6[11];
    char stringdata7[13];
    char stringdata8[16];
};
#define QT_MOC_LITERAL(ofs, len) \
    uint(sizeof(qt_meta_stringdata_DistributedPromiseError_t::offsetsAndSizes) + ofs), len 
Q_CONSTINIT static const qt_meta_stringdata_DistributedPromiseError_t qt_meta_stringdata_DistributedPromiseError = {
    {
        QT_MOC_LITERAL(0, 23),  // "DistributedPromiseError"
        QT_MOC_LITERAL(24, 4),  // "Code"
        QT_MOC_LITERAL(29, 10),  // "WorkFailed"
        QT_MOC_LITERAL(40, 7),  // "Timeout"
        QT_MOC_LITERAL(48, 9),  // "Cancelled"
        QT_MOC_LITERAL(58, 16),  // "ConnectionFailed"
        QT_MOC_LITERAL(75, 10),  // "RedisError"
        QT_MOC_LITERAL(86, 12),  // "DecodeFailed"
        QT_MOC_LITERAL(99, 15)   // "InvalidArgument"
    },
    "DistributedPromiseError",
    "Code",
    "WorkFailed",
    "Timeout",
    "Cancelled",
    "ConnectionFailed",
    "RedisError",
    "DecodeFailed",
    "InvalidArgument"
};
#undef QT_MOC_LITERAL
} // unnamed namespace

Q_CONSTINIT static const uint qt_meta_data_DistributedPromiseError[] = {

 // content:
      10,       // revision
       0,       // classname
       0,    0, // classinfo
       0,    0, // methods
       0,    0, // properties
       1,   14, // enums/sets
       0,    0, // constructors
       4,       // flags
       0,       // signalCount

 // enums: name, alias, flags, count, data
       1,    1, 0x0,    7,   19,

 // enum data: key, value
       2, uint(DistributedPromiseError::WorkFailed),
       3, uint(DistributedPromiseError::Timeout),
       4, uint(DistributedPromiseError::Cancelled),
       5, uint(DistributedPromiseError::ConnectionFailed),
       6, uint(DistributedPromiseError::RedisError),
       7, uint(DistributedPromiseError::DecodeFailed),
       8, uint(DistributedPromiseError::InvalidArgument),

       0        // eod
};

Q_CONSTINIT const QMetaObject DistributedPromiseError::staticMetaObject = { {
    QtPrivate::MetaObjectForType<QException>::value,
    qt_meta_stringdata_DistributedPromiseError.offsetsAndSizes,
    qt_meta_data_DistributedPromiseError,
    nullptr,
    nullptr,
    qt_incomplete_metaTypeArray<qt_meta_stringdata_DistributedPromiseError_t,
        // Q_OBJECT / Q_GADGET
        QtPrivate::TypeAndForceComplete<DistributedPromiseError, std::true_type>
    >,
    nullptr
} };

QT_WARNING_POP
QT_END_MOC_NAMESPACE
