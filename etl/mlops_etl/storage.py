"""File operations through Hadoop's FileSystem API, so one code path serves local folders and s3:// on Glue."""

from __future__ import annotations

from pyspark.sql import SparkSession


class Storage:
    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        fs = path.getFileSystem(self._conf)
        if fs.getScheme() == "file":
            # The checksummed local FileSystem would leave a .crc file beside every file we write.
            fs = fs.getRawFileSystem()
        return fs, path

    def exists(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path))

    def delete(self, uri: str) -> None:
        fs, path = self._fs(uri)
        if fs.exists(path):
            fs.delete(path, True)

    def mkdirs(self, uri: str) -> None:
        fs, path = self._fs(uri)
        fs.mkdirs(path)

    def rename(self, src: str, dst: str) -> None:
        fs, src_path = self._fs(src)
        _, dst_path = self._fs(dst)
        fs.mkdirs(dst_path.getParent())
        if not fs.rename(src_path, dst_path):
            raise OSError(f"could not move {src} to {dst}")

    def list_names(self, uri: str) -> list[str]:
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return []
        return sorted(str(status.getPath().getName()) for status in fs.listStatus(path))

    def write_text(self, uri: str, text: str) -> None:
        fs, path = self._fs(uri)
        stream = fs.create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def read_text(self, uri: str) -> str:
        fs, path = self._fs(uri)
        stream = fs.open(path)
        try:
            data = self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
        finally:
            stream.close()
        return bytes(data).decode("utf-8")


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
